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

// Annotations on backend objects, each keeping what the backend object has
// no field for.
const (
	// ManagedFieldsAnnotation keeps the public object's managedFields, so that
	// server-side apply field ownership survives the round trip; the backend's
	// own managedFields describe backend fields.
	ManagedFieldsAnnotation = ReservedPrefix + "managed-fields"

	// ProfileAnnotation keeps the profile name as the user wrote it; the VM
	// only knows the preference.
	ProfileAnnotation = ReservedPrefix + "instance-profile"
	// InstanceTypeAnnotation keeps the instance type when resources override
	// it, since the VM then carries explicit sizes instead of a matcher.
	InstanceTypeAnnotation = ReservedPrefix + "instance-type"
	// OverridesAnnotation lists which of cpu and memory the user set in
	// resources; their values are read back from the VM's domain.
	OverridesAnnotation = ReservedPrefix + "resource-overrides"
	// PortsAnnotation keeps externalPorts while external is false and there
	// is no Service to hold them.
	PortsAnnotation = ReservedPrefix + "external-ports"
	// MinimalUserDataAnnotation marks a cloud-init Secret generated only to
	// carry SSH keys (KubeVirt needs a noCloud volume for them); it reads
	// back as an empty cloudInit.
	MinimalUserDataAnnotation = ReservedPrefix + "minimal-user-data"
	// WriteInProgressAnnotation marks a VM whose VMInstance is being written
	// (its Services and Secrets may not match it yet); its value says when
	// the write started, and which write it is.
	WriteInProgressAnnotation = ReservedPrefix + "write-in-progress"
	// OwnedVersionsAnnotation records on the VM, for each joined object a
	// write changed ("Service/web", "Secret/web-ssh-keys",
	// "VirtualMachineInstance/web"), the resourceVersion it was left at, ""
	// when it is gone. The last VM write of every VMInstance write carries
	// it, and the join recorder raises it when others change those objects,
	// so a replica that serves the VMInstance from cached objects knows how
	// new its cache must be to show every change, whichever replica
	// recorded it, and the VM's resourceVersion moves with every change.
	OwnedVersionsAnnotation = ReservedPrefix + "owned-versions"
	// UsedByAnnotation records on a VMDisk's DataVolume the VMInstances
	// that attach it (names, sorted, comma-separated), as the disk
	// protection controller sees them: the VMDisk's status.usedBy. Kept on
	// the DataVolume, a change of it moves the DataVolume's resourceVersion,
	// so VMDisk watches carry it in order with every other change.
	UsedByAnnotation = ReservedPrefix + "used-by"

	// OpticalAnnotation marks the DataVolume of an optical VMDisk; CDI has no
	// field for it.
	OpticalAnnotation = ReservedPrefix + "optical"
	// SecretHeadersAnnotation lists the names of the HTTP headers kept in
	// the disk's headers Secret, comma-separated.
	SecretHeadersAnnotation = ReservedPrefix + "secret-headers"
	// URLUsernameAnnotation holds the username of a source URL whose
	// userinfo is kept in the credentials Secret; its presence says that the
	// public URL has userinfo.
	URLUsernameAnnotation = ReservedPrefix + "url-username"
	// GrownStorageAnnotation records on a VMDisk's DataVolume the size its
	// PersistentVolumeClaim was grown to. CDI refuses every change to a
	// DataVolume's spec after creation ("Cannot update DataVolume Spec"), so a
	// VMDisk grows by expanding the claim CDI made for it, as one grows a PVC;
	// the DataVolume keeps the size it was created with. Writing the grown size
	// on the DataVolume too moves the VMDisk's resourceVersion and sends a watch
	// event, and reads need the DataVolume alone.
	GrownStorageAnnotation = ReservedPrefix + "grown-storage"
)
