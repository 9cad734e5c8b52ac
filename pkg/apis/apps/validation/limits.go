/*
Copyright The vm-apiserver Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package validation

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Bounds on what one tenant object may ask for. The contract asks that the
// lists a tenant controls be bounded and quantities be whole bytes below a
// sane maximum, so that one object cannot exhaust a shared pool (node ports,
// storage, the backend's etcd) or make every read of it expensive.
const (
	// maxExternalPorts bounds spec.externalPorts. Every port of a
	// LoadBalancer Service also takes a node port from the cluster's one
	// shared range (30000-32767 by default, 2768 ports), so 64 ports per
	// VMInstance leaves room for 43 fully exposed VMs before the range runs
	// dry instead of one.
	maxExternalPorts = 64
	// maxInstanceDisks bounds spec.disks. KubeVirt allows 256 disks and 256
	// volumes per VM (its admission webhook's arrayLenMax); each disk here
	// also takes a PCIe root port of the guest and, when inline, a
	// DataVolume and a PVC. 32 keeps well inside KubeVirt's limit with
	// room for the cloud-init volume.
	maxInstanceDisks = 32
	// maxSSHKeys bounds spec.sshKeys, one Secret key each.
	maxSSHKeys = 32
	// maxSSHKeyBytes bounds one authorized_keys line. An RSA key of 16384
	// bits, the largest OpenSSH makes, is about 2.8 KB with options and a
	// comment; 16 KiB leaves room for long options, and 32 such keys still
	// fit in the Secret's 1 MiB.
	maxSSHKeyBytes = 16 << 10
	// maxHTTPHeaders bounds a VMDisk's spec.source.http.headers, which CDI
	// sends with every request of the import.
	maxHTTPHeaders = 32
	// maxHTTPFieldBytes bounds the URL and each header (name and value) of
	// an HTTP source: 8 KiB is what common HTTP servers accept for a
	// request line or a header line (nginx's large_client_header_buffers,
	// Apache's LimitRequestLine and LimitRequestFieldSize are 8 KiB), so
	// anything longer could not be fetched anyway.
	maxHTTPFieldBytes = 8 << 10
	// maxCloudInitBytes bounds spec.cloudInit. A Secret holds at most 1 MiB
	// (core/v1 MaxSecretSize), but every read of the VMInstance joins that
	// Secret in, and a watch repeats it on every change, so a full megabyte
	// would make each read of the object that heavy. Real user-data is far
	// smaller: EC2 accepts 16 KiB, OpenStack Nova 64 KiB, GCE 256 KB per
	// metadata value; 256 KiB keeps every one of those working.
	maxCloudInitBytes = 256 << 10
	// maxCPUs bounds spec.resources.cpu. It is a policy bound, not a
	// hardware one: twice the largest sizes in use today (the catalogue's
	// largest type has 32 vCPUs; QEMU's q35 machine long allowed 288), so a
	// typo such as 5G cannot ask the scheduler and the quota for billions.
	maxCPUs = 512
)

var (
	// minMemory is the least guest memory: KubeVirt refuses a guest with
	// less than 1M, and no OS boots in it.
	minMemory = resource.MustParse("1Mi")
	// maxMemory bounds spec.resources.memory: 16 TiB is more than the
	// largest single hosts commonly run as Kubernetes nodes, so anything
	// larger is a typo (1e100) that could never be scheduled.
	maxMemory = resource.MustParse("16Ti")
	// minDiskSize is the least disk size: one byte; storage provisioners
	// round a claim up to their own granularity.
	minDiskSize = resource.MustParse("1")
	// maxDiskSize bounds VMDisk spec.storage and inline disk sizes: 1 PiB
	// is far beyond any single volume a storage class provisions for a VM,
	// and a request that large could only fail late in the provisioner or
	// silently eat a shared pool's quota.
	maxDiskSize = resource.MustParse("1Pi")
)

// validateBytes checks a quantity of bytes: a whole number between min and
// max. The upper bound is checked first: a value such as 1e3000 parses, but
// its Value() is 0 and its MilliValue() overflows, so only Cmp is exact
// there; below max every quantity's MilliValue fits in an int64.
func validateBytes(q *resource.Quantity, min, max resource.Quantity, fldPath *field.Path) field.ErrorList {
	switch {
	case q.Sign() <= 0:
		return field.ErrorList{field.Invalid(fldPath, q.String(), "must be greater than zero")}
	case q.Cmp(max) > 0:
		return field.ErrorList{field.Invalid(fldPath, q.String(), "must be at most "+max.String())}
	case q.MilliValue()%1000 != 0:
		return field.ErrorList{field.Invalid(fldPath, q.String(), "must be a whole number of bytes")}
	case q.Cmp(min) < 0:
		return field.ErrorList{field.Invalid(fldPath, q.String(), "must be at least "+min.String())}
	}
	return nil
}

// validateListLength refuses a list longer than max with one TooMany error
// on the list itself.
func validateListLength(length, max int, fldPath *field.Path) field.ErrorList {
	if length > max {
		return field.ErrorList{field.TooMany(fldPath, length, max)}
	}
	return nil
}

// validateCPU requires a whole number of vCPUs between 1 and maxCPUs: the
// VM's CPU topology counts cores, it has no millicores.
func validateCPU(cpu *resource.Quantity, fldPath *field.Path) field.ErrorList {
	switch {
	case cpu.Sign() <= 0:
		return field.ErrorList{field.Invalid(fldPath, cpu.String(), "must be greater than zero")}
	case cpu.Cmp(*resource.NewQuantity(maxCPUs, resource.DecimalSI)) > 0:
		return field.ErrorList{field.Invalid(fldPath, cpu.String(), fmt.Sprintf("must be at most %d", maxCPUs))}
	case cpu.MilliValue()%1000 != 0:
		return field.ErrorList{field.Invalid(fldPath, cpu.String(), "must be a whole number of vCPUs")}
	}
	return nil
}
