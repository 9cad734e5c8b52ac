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

// VMInstance is a virtual machine. It is stored as a KubeVirt VirtualMachine
// of the same name, plus a LoadBalancer Service of that name while it is
// external and the Secrets <name>-cloud-init and <name>-ssh-keys.
type VMInstance struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired virtual machine.
	// +optional
	Spec VMInstanceSpec `json:"spec,omitempty"`
	// Status is the virtual machine as KubeVirt reports it. Read-only.
	// +optional
	Status VMInstanceStatus `json:"status,omitempty"`
}

// VMInstanceSpec is the desired state of a VMInstance.
type VMInstanceSpec struct {
	// Running says whether the virtual machine should run. Defaults to true.
	// +optional
	Running *bool `json:"running,omitempty"`
	// InstanceType is the name of a VirtualMachineClusterInstancetype giving
	// the size of the machine. Defaults to u1.medium when resources is empty.
	// +optional
	InstanceType string `json:"instanceType,omitempty"`
	// InstanceProfile is the operating-system profile: ubuntu, centos-stream,
	// rhel, fedora, opensuse, alpine, cirros, windows-10, windows-11 or
	// windows-server-2022, or one an operator added. Defaults to ubuntu.
	// +optional
	InstanceProfile string `json:"instanceProfile,omitempty"`
	// Resources overrides the instance type's CPU and memory, field by field.
	// +optional
	Resources *VMResources `json:"resources,omitempty"`
	// Disks of the machine, in boot order. A disk with a size is created with
	// the machine (the first one from the profile's OS image, the others
	// blank); a disk without a size attaches the existing VMDisk of that name.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +patchMergeKey=name
	// +patchStrategy=merge
	Disks []VMInstanceDisk `json:"disks,omitempty" patchStrategy:"merge" patchMergeKey:"name"`
	// External exposes the machine outside the cluster through a
	// LoadBalancer Service carrying externalPorts.
	// +optional
	External bool `json:"external,omitempty"`
	// ExternalPorts are the ports reachable from outside when external is
	// true.
	// +optional
	// +listType=map
	// +listMapKey=port
	// +listMapKey=protocol
	// +patchMergeKey=port
	// +patchStrategy=merge
	ExternalPorts []ExternalPort `json:"externalPorts,omitempty" patchStrategy:"merge" patchMergeKey:"port"`
	// SSHKeys are public keys, each an authorized_keys line, installed for
	// the default user.
	// +optional
	// +listType=atomic
	SSHKeys []string `json:"sshKeys,omitempty"`
	// CloudInit is cloud-init user data. A "#cloud-config" document must be
	// valid YAML.
	// +optional
	CloudInit string `json:"cloudInit,omitempty"`
}

// VMResources overrides the size an instance type gives.
type VMResources struct {
	// CPU is the number of virtual CPUs.
	// +optional
	CPU *resource.Quantity `json:"cpu,omitempty"`
	// Memory is the guest memory.
	// +optional
	Memory *resource.Quantity `json:"memory,omitempty"`
}

// VMInstanceDisk is a disk of a VMInstance.
type VMInstanceDisk struct {
	// Name of the disk: a DNS label, unique in the machine. Without size, the
	// name of an existing VMDisk in the namespace.
	Name string `json:"name"`
	// Size of a disk created with the machine. Leave empty to attach an
	// existing VMDisk.
	// +optional
	Size *resource.Quantity `json:"size,omitempty"`
	// StorageClass of a disk created with the machine. Defaults to
	// "replicated".
	// +optional
	StorageClass string `json:"storageClass,omitempty"`
	// Bus the disk is attached on: virtio, sata or scsi. Defaults to the
	// profile's preferred bus (sata for optical VMDisks).
	// +optional
	Bus string `json:"bus,omitempty"`
}

// ExternalPort is a port exposed outside the cluster.
type ExternalPort struct {
	// Port number exposed, 1-65535.
	Port int32 `json:"port"`
	// Protocol: TCP or UDP. Defaults to TCP.
	// +optional
	// +default="TCP"
	Protocol string `json:"protocol,omitempty"`
	// TargetPort is the port inside the machine. Defaults to port.
	// +optional
	TargetPort int32 `json:"targetPort,omitempty"`
}

// VMInstanceStatus is the observed state of a VMInstance, read from its
// VirtualMachine, VirtualMachineInstance and Service.
type VMInstanceStatus struct {
	// ObservedGeneration is the generation the backend has acted on: what
	// KubeVirt reports for the VirtualMachine, else (or for a VMDisk, whose
	// DataVolume reports none) the generation itself.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Phase is the VirtualMachine's printable status: Stopped, Provisioning,
	// Starting, Running, Stopping, ...
	// +optional
	Phase string `json:"phase,omitempty"`
	// Ready is true when the machine is running and ready.
	// +optional
	Ready bool `json:"ready,omitempty"`
	// IPAddresses of the running machine.
	// +optional
	// +listType=atomic
	IPAddresses []string `json:"ipAddresses,omitempty"`
	// NodeName is the node the machine runs on.
	// +optional
	NodeName string `json:"nodeName,omitempty"`
	// ExternalIP is the load balancer's address while external is true.
	// +optional
	ExternalIP string `json:"externalIP,omitempty"`
	// CPU is the number of virtual CPUs the machine gets.
	// +optional
	CPU *resource.Quantity `json:"cpu,omitempty"`
	// Memory is the guest memory the machine gets.
	// +optional
	Memory *resource.Quantity `json:"memory,omitempty"`
	// Conditions: Ready, RestartRequired and the readiness of disks.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// VMInstanceList is a list of VMInstances.
type VMInstanceList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items is the list of VMInstances.
	Items []VMInstance `json:"items"`
}
