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

// Package backendnames is the naming contract between public objects and
// the backend objects that store them: the names of backend objects, and
// the reserved labels, annotations and finalizers that mark them. It
// imports no backend API, so that validation can check names against it.
package backendnames

import "strings"

const (
	// ReservedPrefix starts every label, annotation and finalizer key
	// vm-apiserver keeps for itself on backend objects. Public objects never
	// show them and users may not set them.
	ReservedPrefix = "vm.apps.cozystack.io/"

	// KindLabel marks a backend object as the primary object of a public one
	// and names the public kind. Backend objects without it are not exposed.
	KindLabel = ReservedPrefix + "kind"
	// VMInstanceKind is the KindLabel value of VirtualMachines that are
	// VMInstances.
	VMInstanceKind = "VMInstance"
	// VMDiskKind is the KindLabel value of DataVolumes that are VMDisks.
	VMDiskKind = "VMDisk"
	// InstanceLabel names the VMInstance on its Service, Secrets, inline
	// disks' DataVolumes and the VM's pod template (where the Service
	// selects it).
	InstanceLabel = ReservedPrefix + "instance"

	// InUseProtectionFinalizer keeps a VMDisk's DataVolume, and so the
	// VMDisk, while a VMInstance attaches it, as kubernetes.io/pvc-protection
	// keeps a PVC a Pod uses: deleting the VMDisk is accepted and it stays
	// Terminating until vm-apiserver's disk protection controller sees no
	// VMInstance attaching it and removes the finalizer. Every VMDisk carries
	// it from its creation on, and shows it, as a PVC shows pvc-protection.
	InUseProtectionFinalizer = ReservedPrefix + "in-use-protection"

	// CloudInitVolume is the VM volume holding cloud-init; no disk may
	// take its name.
	CloudInitVolume = "cloudinit"
)

// IsReservedKey says whether a label, annotation or finalizer key belongs
// to vm-apiserver.
func IsReservedKey(key string) bool {
	return strings.HasPrefix(key, ReservedPrefix)
}

// HasKind says whether a backend object's labels mark it as the primary
// object of a public object of kind.
func HasKind(labels map[string]string, kind string) bool {
	return labels[KindLabel] == kind
}

// KindSelector selects the primary backend objects of kind.
func KindSelector(kind string) string { return KindLabel + "=" + kind }
