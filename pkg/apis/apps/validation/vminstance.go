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
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
)

// shownKeyPrefix is how much of an invalid SSH key an error repeats: enough
// to recognise it, not the whole blob.
const shownKeyPrefix = 20

var (
	supportedBuses     = []string{"virtio", "sata", "scsi"}
	supportedProtocols = []string{"TCP", "UDP"}
)

// ValidateVMInstance checks a new, defaulted VMInstance.
func ValidateVMInstance(vm *apps.VMInstance) field.ErrorList {
	allErrs := validateObjectMeta(&vm.ObjectMeta)
	allErrs = append(allErrs, validateVMInstanceName(vm.Name)...)
	return append(allErrs, validateVMInstanceSpec(&vm.Spec, vm.Name, field.NewPath("spec"))...)
}

// ValidateVMInstanceUpdate checks a change to a VMInstance. The spec obeys
// the same rules as on create; an inline disk that already exists may grow
// but not shrink, and keeps its storage class, as its DataVolume does.
func ValidateVMInstanceUpdate(vm, old *apps.VMInstance) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&vm.ObjectMeta, &old.ObjectMeta)
	specPath := field.NewPath("spec")
	allErrs = append(allErrs, validateVMInstanceSpec(&vm.Spec, vm.Name, specPath)...)
	return append(allErrs, validateInlineDiskUpdates(vm.Spec.Disks, old.Spec.Disks, specPath.Child("disks"))...)
}

// VMInstanceWarnings returns what is accepted but probably not what the user
// meant.
func VMInstanceWarnings(vm *apps.VMInstance) []string {
	var warnings []string
	if len(vm.Spec.ExternalPorts) > 0 && !vm.Spec.External {
		warnings = append(warnings, "spec.externalPorts: kept, but not exposed until spec.external is true")
	}
	if r := vm.Spec.Resources; vm.Spec.InstanceType != "" && r != nil && (r.CPU != nil || r.Memory != nil) {
		warnings = append(warnings, fmt.Sprintf("spec.resources: overrides the cpu/memory of instance type %q field by field", vm.Spec.InstanceType))
	}
	return warnings
}

// validateVMInstanceName checks what the metadata rules do not: the name
// also names the Service, which must be a DNS-1035 label (starting with a
// letter). It is required even while external is false because the Service
// may be created by a later update, when the name can no longer change. The
// Secrets X-cloud-init and X-ssh-keys need no check: a 63-character label
// plus a suffix stays far below the 253 a Secret name allows.
func validateVMInstanceName(name string) field.ErrorList {
	if name == "" || len(validation.IsDNS1123Label(name)) > 0 {
		return nil // already reported by validateObjectMeta
	}
	var allErrs field.ErrorList
	for _, msg := range validation.IsDNS1035Label(name) {
		allErrs = append(allErrs, field.Invalid(field.NewPath("metadata", "name"), name, msg+" (it also names the VMInstance's Service)"))
	}
	return allErrs
}

func validateVMInstanceSpec(spec *apps.VMInstanceSpec, vmName string, fldPath *field.Path) field.ErrorList {
	// The profile's form only; whether the catalogue knows it is checked
	// where the catalogue is.
	allErrs := validateRequiredSubdomain(spec.InstanceProfile, fldPath.Child("instanceProfile"))
	allErrs = append(allErrs, validateSizing(spec, fldPath)...)
	allErrs = append(allErrs, validateInstanceDisks(spec.Disks, vmName, fldPath.Child("disks"))...)
	allErrs = append(allErrs, validateExternalPorts(spec.ExternalPorts, fldPath.Child("externalPorts"))...)
	allErrs = append(allErrs, validateSSHKeys(spec.SSHKeys, fldPath.Child("sshKeys"))...)
	allErrs = append(allErrs, validateCloudInit(spec.CloudInit, fldPath.Child("cloudInit"))...)
	return allErrs
}

// validateSizing checks instanceType and resources together: without an
// instance type, resources alone must give the machine both CPU and memory.
// Defaulting has already filled in an instance type when resources are empty.
func validateSizing(spec *apps.VMInstanceSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	typePath, resPath := fldPath.Child("instanceType"), fldPath.Child("resources")
	r := spec.Resources
	if r == nil {
		r = &apps.VMResources{}
	}
	if spec.InstanceType == "" {
		const why = "required when instanceType is empty"
		switch {
		case r.CPU == nil && r.Memory == nil:
			allErrs = append(allErrs, field.Required(typePath, "or set both resources.cpu and resources.memory"))
		case r.CPU == nil:
			allErrs = append(allErrs, field.Required(resPath.Child("cpu"), why))
		case r.Memory == nil:
			allErrs = append(allErrs, field.Required(resPath.Child("memory"), why))
		}
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(spec.InstanceType) {
			allErrs = append(allErrs, field.Invalid(typePath, spec.InstanceType, msg))
		}
	}
	if r.CPU != nil {
		allErrs = append(allErrs, validateCPU(r.CPU, resPath.Child("cpu"))...)
	}
	if r.Memory != nil {
		allErrs = append(allErrs, validateBytes(r.Memory, minMemory, maxMemory, resPath.Child("memory"))...)
	}
	return allErrs
}

// validateInstanceDisks checks the disk list. A disk with a size is inline:
// it becomes the DataVolume <vm>-<disk>, whose name must stay a DNS label
// because the PVC and KubeVirt volume built from it take the same name.
// A disk without a size attaches the existing VMDisk of that name, whose
// storage class is its own, so giving one here would be silently ignored.
// No disk may take the name of the VM's cloud-init volume.
func validateInstanceDisks(disks []apps.VMInstanceDisk, vmName string, fldPath *field.Path) field.ErrorList {
	allErrs := validateListLength(len(disks), maxInstanceDisks, fldPath)
	seen := sets.New[string]()
	vmNameValid := vmName != "" && len(validation.IsDNS1123Label(vmName)) == 0
	for i := range disks {
		disk := &disks[i]
		diskPath := fldPath.Index(i)
		namePath := diskPath.Child("name")
		switch {
		case disk.Name == "":
			allErrs = append(allErrs, field.Required(namePath, ""))
		case seen.Has(disk.Name):
			allErrs = append(allErrs, field.Duplicate(namePath, disk.Name))
		default:
			seen.Insert(disk.Name)
			nameErrs := validation.IsDNS1123Label(disk.Name)
			for _, msg := range nameErrs {
				allErrs = append(allErrs, field.Invalid(namePath, disk.Name, msg))
			}
			if disk.Size != nil && vmNameValid && len(nameErrs) == 0 {
				allErrs = append(allErrs, validateDataVolumeName(vmName, disk.Name, namePath)...)
			}
		}
		if disk.Name == backendnames.CloudInitVolume {
			allErrs = append(allErrs, field.Invalid(namePath, disk.Name, "is reserved for the cloud-init volume"))
		}

		classPath := diskPath.Child("storageClass")
		if disk.Size != nil {
			allErrs = append(allErrs, validateBytes(disk.Size, minDiskSize, maxDiskSize, diskPath.Child("size"))...)
			allErrs = append(allErrs, validateRequiredSubdomain(disk.StorageClass, classPath)...)
		} else if disk.StorageClass != "" {
			allErrs = append(allErrs, field.Invalid(classPath, disk.StorageClass,
				"must be empty when size is unset: the disk attaches an existing VMDisk, which keeps its own storage class"))
		}

		if disk.Bus != "" && !slices.Contains(supportedBuses, disk.Bus) {
			allErrs = append(allErrs, field.NotSupported(diskPath.Child("bus"), disk.Bus, supportedBuses))
		}
	}
	return allErrs
}

func validateDataVolumeName(vmName, diskName string, fldPath *field.Path) field.ErrorList {
	dvName := backendnames.DiskDataVolumeName(vmName, diskName)
	if len(dvName) <= validation.DNS1123LabelMaxLength {
		return nil
	}
	return field.ErrorList{field.Invalid(fldPath, diskName, fmt.Sprintf(
		"the disk's DataVolume name %q would be %d characters, more than the %d allowed; shorten the disk or VMInstance name",
		dvName, len(dvName), validation.DNS1123LabelMaxLength))}
}

// validateInlineDiskUpdates compares inline disks that keep their name: their
// DataVolume already exists, its storage class cannot change and its PVC can
// only grow. Disks added, removed or turned into attachments are free.
func validateInlineDiskUpdates(disks, oldDisks []apps.VMInstanceDisk, fldPath *field.Path) field.ErrorList {
	oldByName := make(map[string]*apps.VMInstanceDisk, len(oldDisks))
	for i := range oldDisks {
		if oldDisks[i].Size != nil {
			oldByName[oldDisks[i].Name] = &oldDisks[i]
		}
	}
	var allErrs field.ErrorList
	for i := range disks {
		disk := &disks[i]
		old, ok := oldByName[disk.Name]
		if !ok || disk.Size == nil {
			continue
		}
		diskPath := fldPath.Index(i)
		allErrs = append(allErrs, apimachineryvalidation.ValidateImmutableField(disk.StorageClass, old.StorageClass, diskPath.Child("storageClass"))...)
		if disk.Size.Cmp(*old.Size) < 0 {
			allErrs = append(allErrs, field.Forbidden(diskPath.Child("size"),
				fmt.Sprintf("may not shrink from %s to %s", old.Size.String(), disk.Size.String())))
		}
	}
	return allErrs
}

// validateExternalPorts checks the ports of the Service. They are checked
// whether or not external is set, since they are kept for when it is.
func validateExternalPorts(ports []apps.ExternalPort, fldPath *field.Path) field.ErrorList {
	allErrs := validateListLength(len(ports), maxExternalPorts, fldPath)
	seen := sets.New[string]()
	for i := range ports {
		port := &ports[i]
		portPath := fldPath.Index(i)
		for _, msg := range validation.IsValidPortNum(int(port.Port)) {
			allErrs = append(allErrs, field.Invalid(portPath.Child("port"), port.Port, msg))
		}
		if !slices.Contains(supportedProtocols, port.Protocol) {
			allErrs = append(allErrs, field.NotSupported(portPath.Child("protocol"), port.Protocol, supportedProtocols))
		}
		for _, msg := range validation.IsValidPortNum(int(port.TargetPort)) {
			allErrs = append(allErrs, field.Invalid(portPath.Child("targetPort"), port.TargetPort, msg))
		}
		key := fmt.Sprintf("%d/%s", port.Port, port.Protocol)
		if seen.Has(key) {
			allErrs = append(allErrs, field.Duplicate(portPath, key))
		}
		seen.Insert(key)
	}
	return allErrs
}

// validateSSHKeys requires each entry to be one authorized_keys line (with
// options, if any). A multi-line entry is refused rather than parsed, since
// ParseAuthorizedKey would skip a bad first line and accept the next one.
func validateSSHKeys(keys []string, fldPath *field.Path) field.ErrorList {
	allErrs := validateListLength(len(keys), maxSSHKeys, fldPath)
	for i, key := range keys {
		keyPath := fldPath.Index(i)
		line := strings.TrimSpace(key)
		if line == "" {
			allErrs = append(allErrs, field.Required(keyPath, ""))
			continue
		}
		if len(line) > maxSSHKeyBytes {
			allErrs = append(allErrs, field.TooLong(keyPath, field.OmitValueType{}, maxSSHKeyBytes))
			continue
		}
		if strings.ContainsAny(line, "\r\n") {
			allErrs = append(allErrs, field.Invalid(keyPath, abbreviate(line), "must be a single authorized_keys line; give each key its own entry"))
			continue
		}
		if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line)); err != nil {
			allErrs = append(allErrs, field.Invalid(keyPath, abbreviate(line), "must be an authorized_keys line: "+err.Error()))
		}
	}
	return allErrs
}

// abbreviate shortens a key for an error message.
func abbreviate(s string) string {
	if r := []rune(s); len(r) > shownKeyPrefix {
		return string(r[:shownKeyPrefix]) + "…"
	}
	return s
}

// validateCloudInit checks the user-data. Cloud-init treats it as a
// cloud-config document when its first line is "#cloud-config", and then
// needs a YAML mapping; other formats (scripts, MIME, #include) are passed on
// as they are. The value is never echoed: user-data often holds passwords.
func validateCloudInit(userData string, fldPath *field.Path) field.ErrorList {
	if len(userData) > maxCloudInitBytes {
		return field.ErrorList{field.TooLong(fldPath, field.OmitValueType{}, maxCloudInitBytes)}
	}
	firstLine, _, _ := strings.Cut(userData, "\n")
	if strings.TrimRight(firstLine, " \t\r") != "#cloud-config" {
		return nil
	}
	var doc interface{}
	if err := yaml.Unmarshal([]byte(userData), &doc); err != nil {
		return field.ErrorList{field.Invalid(fldPath, field.OmitValueType{}, "a #cloud-config document must be valid YAML: "+err.Error())}
	}
	switch doc.(type) {
	case nil, map[string]interface{}: // an empty document is a no-op
		return nil
	case []interface{}:
		return field.ErrorList{field.Invalid(fldPath, field.OmitValueType{}, "a #cloud-config document must be a YAML mapping (users:, packages:, runcmd:, …), not a list")}
	default:
		return field.ErrorList{field.Invalid(fldPath, field.OmitValueType{}, "a #cloud-config document must be a YAML mapping (users:, packages:, runcmd:, …), not a scalar")}
	}
}
