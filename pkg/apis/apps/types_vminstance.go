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

// VMInstance is the internal form of v1alpha1.VMInstance.
type VMInstance struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec   VMInstanceSpec
	Status VMInstanceStatus
}

// VMInstanceSpec is the internal form of v1alpha1.VMInstanceSpec.
type VMInstanceSpec struct {
	Running         *bool
	InstanceType    string
	InstanceProfile string
	Resources       *VMResources
	Disks           []VMInstanceDisk
	External        bool
	ExternalPorts   []ExternalPort
	SSHKeys         []string
	CloudInit       string
}

// VMResources is the internal form of v1alpha1.VMResources.
type VMResources struct {
	CPU    *resource.Quantity
	Memory *resource.Quantity
}

// VMInstanceDisk is the internal form of v1alpha1.VMInstanceDisk.
type VMInstanceDisk struct {
	Name         string
	Size         *resource.Quantity
	StorageClass string
	Bus          string
}

// ExternalPort is the internal form of v1alpha1.ExternalPort.
type ExternalPort struct {
	Port       int32
	Protocol   string
	TargetPort int32
}

// VMInstanceStatus is the internal form of v1alpha1.VMInstanceStatus.
type VMInstanceStatus struct {
	ObservedGeneration int64
	Phase              string
	Ready              bool
	IPAddresses        []string
	NodeName           string
	ExternalIP         string
	CPU                *resource.Quantity
	Memory             *resource.Quantity
	Conditions         []metav1.Condition
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VMInstanceList is the internal form of v1alpha1.VMInstanceList.
type VMInstanceList struct {
	metav1.TypeMeta
	metav1.ListMeta
	Items []VMInstance
}
