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

package backendnames

// Backend names of a VMInstance X.

// ServiceName is the LoadBalancer Service exposing X.
func ServiceName(vm string) string { return vm }

// CloudInitSecretName is the Secret holding X's user data.
func CloudInitSecretName(vm string) string { return vm + "-cloud-init" }

// SSHKeysSecretName is the Secret holding X's SSH keys.
func SSHKeysSecretName(vm string) string { return vm + "-ssh-keys" }

// DiskDataVolumeName is the DataVolume of X's inline disk.
func DiskDataVolumeName(vm, disk string) string { return vm + "-" + disk }

// DataVolumeClaimants are the VMInstance names whose inline disks could have
// the DataVolume name dv (X's disk D has X-D): "a-b-c" may be "a" with disk
// "b-c" or "a-b" with disk "c".
func DataVolumeClaimants(dv string) []string {
	var names []string
	for i := 1; i < len(dv)-1; i++ {
		if dv[i] == '-' {
			names = append(names, dv[:i])
		}
	}
	return names
}

// Backend names of a VMDisk X, whose DataVolume is X itself.

// HeadersSecretName is the Secret holding X's credential headers.
func HeadersSecretName(disk string) string { return disk + "-http-headers" }

// CredentialsSecretName is the Secret holding the userinfo of X's URL.
func CredentialsSecretName(disk string) string { return disk + "-http-credentials" }
