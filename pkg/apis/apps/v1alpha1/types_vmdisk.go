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

package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VMDisk is a virtual disk: a volume imported from an image, cloned from
// another volume or snapshot, or blank. It is stored as a CDI DataVolume of
// the same name in the same namespace.
type VMDisk struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired disk.
	// +optional
	Spec VMDiskSpec `json:"spec,omitempty"`
	// Status is the disk as the storage backend reports it. Read-only.
	// +optional
	Status VMDiskStatus `json:"status,omitempty"`
}

// VMDiskSpec is the desired state of a VMDisk.
type VMDiskSpec struct {
	// Source is where the disk's content comes from. At most one kind of
	// source may be set; an empty source ({}) makes a blank disk. Immutable.
	// +optional
	Source VMDiskSource `json:"source"`
	// Optical marks the disk as an ISO image, attached to virtual machines as
	// a CD-ROM.
	// +optional
	Optical bool `json:"optical,omitempty"`
	// Storage is the size of the disk. Defaults to 5Gi. It may grow after
	// creation, never shrink.
	// +optional
	Storage *resource.Quantity `json:"storage,omitempty"`
	// StorageClass is the storage class of the volume. Defaults to
	// "replicated". Immutable.
	// +optional
	StorageClass string `json:"storageClass,omitempty"`
}

// VMDiskSource names where a disk's content comes from. Set at most one
// field; none means a blank disk.
type VMDiskSource struct {
	// HTTP imports an image from an http or https URL.
	// +optional
	HTTP *HTTPDiskSource `json:"http,omitempty"`
	// Registry imports an image from a container registry.
	// +optional
	Registry *RegistryDiskSource `json:"registry,omitempty"`
	// PVC clones an existing PersistentVolumeClaim.
	// +optional
	PVC *PVCDiskSource `json:"pvc,omitempty"`
	// Snapshot restores an existing VolumeSnapshot.
	// +optional
	Snapshot *SnapshotDiskSource `json:"snapshot,omitempty"`
}

// HTTPDiskSource imports a disk image over HTTP(S).
type HTTPDiskSource struct {
	// URL of the image; the scheme must be http or https.
	URL string `json:"url"`
	// Headers are extra HTTP request headers sent with the download, by
	// header name.
	// +optional
	Headers map[string]string `json:"headers,omitempty"`
	// Checksum of the image as "<algorithm>:<hex digest>", where the
	// algorithm is md5, sha1, sha256 or sha512. The import fails when the
	// downloaded image does not match.
	// +optional
	Checksum string `json:"checksum,omitempty"`
}

// RegistryDiskSource imports a disk image from a container image.
type RegistryDiskSource struct {
	// URL of the container image, as docker://<registry>/<repository>[:tag].
	URL string `json:"url"`
}

// PVCDiskSource clones a PersistentVolumeClaim.
type PVCDiskSource struct {
	// Name of the PersistentVolumeClaim.
	Name string `json:"name"`
	// Namespace of the PersistentVolumeClaim. Defaults to the disk's own
	// namespace; another namespace needs the right to clone from it.
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// SnapshotDiskSource restores a VolumeSnapshot.
type SnapshotDiskSource struct {
	// Name of the VolumeSnapshot.
	Name string `json:"name"`
	// Namespace of the VolumeSnapshot. Defaults to the disk's own
	// namespace; another namespace needs the right to clone from it.
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// VMDiskStatus is the observed state of a VMDisk, read from its DataVolume.
type VMDiskStatus struct {
	// ObservedGeneration is the generation the backend has acted on: what
	// KubeVirt reports for the VirtualMachine, else (or for a VMDisk, whose
	// DataVolume reports none) the generation itself.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Phase of the DataVolume: Pending, ImportScheduled, ImportInProgress,
	// CloneInProgress, WaitForFirstConsumer, Succeeded, Failed, ...
	// +optional
	Phase string `json:"phase,omitempty"`
	// Progress of the import or clone, such as "45.20%".
	// +optional
	Progress string `json:"progress,omitempty"`
	// ClaimName is the PersistentVolumeClaim that holds the disk.
	// +optional
	ClaimName string `json:"claimName,omitempty"`
	// Conditions of the DataVolume (Ready, Bound, Running).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// UsedBy lists the VMInstances in the namespace that attach the disk.
	// +optional
	// +listType=set
	UsedBy []string `json:"usedBy,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VMDiskList is a list of VMDisks.
type VMDiskList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items is the list of VMDisks.
	Items []VMDisk `json:"items"`
}
