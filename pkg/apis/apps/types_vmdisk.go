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

package apps

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VMDisk is the internal form of v1alpha1.VMDisk.
type VMDisk struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec   VMDiskSpec
	Status VMDiskStatus
}

// VMDiskSpec is the internal form of v1alpha1.VMDiskSpec.
type VMDiskSpec struct {
	Source       VMDiskSource
	Optical      bool
	Storage      *resource.Quantity
	StorageClass string
}

// VMDiskSource is the internal form of v1alpha1.VMDiskSource.
type VMDiskSource struct {
	HTTP     *HTTPDiskSource
	Registry *RegistryDiskSource
	PVC      *PVCDiskSource
	Snapshot *SnapshotDiskSource
}

// HTTPDiskSource is the internal form of v1alpha1.HTTPDiskSource.
type HTTPDiskSource struct {
	URL      string
	Headers  map[string]string
	Checksum string
}

// RegistryDiskSource is the internal form of v1alpha1.RegistryDiskSource.
type RegistryDiskSource struct {
	URL string
}

// PVCDiskSource is the internal form of v1alpha1.PVCDiskSource.
type PVCDiskSource struct {
	Name      string
	Namespace string
}

// SnapshotDiskSource is the internal form of v1alpha1.SnapshotDiskSource.
type SnapshotDiskSource struct {
	Name      string
	Namespace string
}

// VMDiskStatus is the internal form of v1alpha1.VMDiskStatus.
type VMDiskStatus struct {
	ObservedGeneration int64
	Phase              string
	Progress           string
	ClaimName          string
	Conditions         []metav1.Condition
	UsedBy             []string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VMDiskList is the internal form of v1alpha1.VMDiskList.
type VMDiskList struct {
	metav1.TypeMeta
	metav1.ListMeta
	Items []VMDisk
}
