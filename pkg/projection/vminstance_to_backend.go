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

package projection

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	kubevirtv1 "kubevirt.io/api/core/v1"
	instancetypev1beta1 "kubevirt.io/api/instancetype/v1beta1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
	"github.com/cozystack/vm-apiserver/pkg/catalogue"
)

// VMInstanceBackendFor returns the backend objects storing vmi. existing is
// the current VM on update (its other fields are kept) and nil on create.
// Service and Secrets are nil when vmi needs none.
func VMInstanceBackendFor(inst *apps.VMInstance, existing *kubevirtv1.VirtualMachine, in VMInstanceInputs) (*VMInstanceBackend, error) {
	vm := &kubevirtv1.VirtualMachine{}
	var existingMeta *metav1.ObjectMeta
	if existing != nil {
		vm = existing.DeepCopy()
		existingMeta = &existing.ObjectMeta
	}
	meta, err := BackendMeta(&inst.ObjectMeta, existingMeta, backendnames.VMInstanceKind)
	if err != nil {
		return nil, err
	}
	vm.ObjectMeta = meta
	vm.TypeMeta = metav1.TypeMeta{}
	if existing == nil {
		markObservedAPIVersion(&vm.ObjectMeta)
	}
	spec := &inst.Spec
	setKeyIf(&vm.Annotations, backendnames.ProfileAnnotation, spec.InstanceProfile)
	setKeyIf(&vm.Annotations, backendnames.PortsAnnotation, "")
	if !spec.External && len(spec.ExternalPorts) > 0 {
		ports, err := json.Marshal(spec.ExternalPorts)
		if err != nil {
			return nil, err
		}
		setKeyIf(&vm.Annotations, backendnames.PortsAnnotation, string(ports))
	}

	runStrategy := kubevirtv1.RunStrategyAlways
	if spec.Running != nil && !*spec.Running {
		runStrategy = kubevirtv1.RunStrategyHalted
	}
	vm.Spec.Running = nil
	vm.Spec.RunStrategy = &runStrategy
	vm.Spec.Preference = &kubevirtv1.PreferenceMatcher{Kind: "VirtualMachineClusterPreference", Name: in.Profile.Preference}

	if vm.Spec.Template == nil {
		vm.Spec.Template = &kubevirtv1.VirtualMachineInstanceTemplateSpec{}
	}
	tmpl := vm.Spec.Template
	setKeyIf(&tmpl.ObjectMeta.Labels, backendnames.InstanceLabel, inst.Name)
	if err := setSize(vm, spec, in.InstanceType); err != nil {
		return nil, err
	}
	setNetwork(&tmpl.Spec)
	vm.Spec.DataVolumeTemplates = setDisks(vm, inst, in)

	backend := &VMInstanceBackend{VM: vm}
	backend.Service, backend.CloudInit, backend.SSHKeys = OwnedObjectsFor(inst)
	if backend.CloudInit != nil {
		addVolume(&tmpl.Spec, kubevirtv1.Volume{Name: backendnames.CloudInitVolume, VolumeSource: kubevirtv1.VolumeSource{
			CloudInitNoCloud: &kubevirtv1.CloudInitNoCloudSource{UserDataSecretRef: &corev1.LocalObjectReference{Name: backend.CloudInit.Name}},
		}}, kubevirtv1.Disk{Name: backendnames.CloudInitVolume})
	}
	tmpl.Spec.AccessCredentials = nil
	if backend.SSHKeys != nil {
		tmpl.Spec.AccessCredentials = []kubevirtv1.AccessCredential{{SSHPublicKey: &kubevirtv1.SSHPublicKeyAccessCredential{
			Source:            kubevirtv1.SSHPublicKeyAccessCredentialSource{Secret: &kubevirtv1.AccessCredentialSecretSource{SecretName: backend.SSHKeys.Name}},
			PropagationMethod: kubevirtv1.SSHPublicKeyAccessCredentialPropagationMethod{NoCloud: &kubevirtv1.NoCloudSSHPublicKeyAccessCredentialPropagation{}},
		}}}
	}
	return backend, nil
}

// OwnedObjectsFor returns the Service and Secrets that store inst's
// externalPorts, cloudInit and sshKeys, nil for those it needs none of.
func OwnedObjectsFor(inst *apps.VMInstance) (svc *corev1.Service, cloudInit, sshKeys *corev1.Secret) {
	spec := &inst.Spec
	owned := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{
			Name:      name,
			Namespace: inst.Namespace,
			Labels:    map[string]string{backendnames.InstanceLabel: inst.Name},
		}
	}
	if spec.CloudInit != "" || len(spec.SSHKeys) > 0 {
		cloudInit = &corev1.Secret{ObjectMeta: owned(backendnames.CloudInitSecretName(inst.Name)), Type: corev1.SecretTypeOpaque}
		userData := spec.CloudInit
		if userData == "" {
			userData = minimalUserData
			cloudInit.Annotations = map[string]string{backendnames.MinimalUserDataAnnotation: "true"}
		}
		cloudInit.Data = map[string][]byte{userDataKey: []byte(userData)}
	}
	if len(spec.SSHKeys) > 0 {
		sshKeys = &corev1.Secret{ObjectMeta: owned(backendnames.SSHKeysSecretName(inst.Name)), Type: corev1.SecretTypeOpaque, Data: map[string][]byte{}}
		for i, key := range spec.SSHKeys {
			sshKeys.Data[sshKeyPrefix+strconv.Itoa(i)] = []byte(key)
		}
	}
	if spec.External {
		svc = &corev1.Service{ObjectMeta: owned(backendnames.ServiceName(inst.Name))}
		svc.Spec = corev1.ServiceSpec{
			Type:     corev1.ServiceTypeLoadBalancer,
			Selector: map[string]string{backendnames.InstanceLabel: inst.Name},
		}
		for _, p := range spec.ExternalPorts {
			svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{
				Name:       strings.ToLower(p.Protocol) + "-" + strconv.Itoa(int(p.Port)),
				Protocol:   corev1.Protocol(p.Protocol),
				Port:       p.Port,
				TargetPort: intstr.FromInt32(p.TargetPort),
			})
		}
	}
	return svc, cloudInit, sshKeys
}

// setSize sizes the VM: an instance type matcher, or, when resources
// override it, explicit CPU and memory plus the type's other settings
// expanded into the domain (KubeVirt refuses a matcher together with
// explicit sizes).
func setSize(vm *kubevirtv1.VirtualMachine, spec *apps.VMInstanceSpec, it *instancetypev1beta1.VirtualMachineInstancetypeSpec) error {
	domain := &vm.Spec.Template.Spec.Domain
	delete(vm.Annotations, backendnames.InstanceTypeAnnotation)
	delete(vm.Annotations, backendnames.OverridesAnnotation)
	if spec.Resources == nil || (spec.Resources.CPU == nil && spec.Resources.Memory == nil) {
		vm.Spec.Instancetype = &kubevirtv1.InstancetypeMatcher{Kind: "VirtualMachineClusterInstancetype", Name: spec.InstanceType}
		domain.CPU = nil
		domain.Memory = nil
		domain.IOThreadsPolicy = nil
		return nil
	}
	vm.Spec.Instancetype = nil
	setKeyIf(&vm.Annotations, backendnames.InstanceTypeAnnotation, spec.InstanceType)
	var overrides []string
	cpu := &kubevirtv1.CPU{Cores: 1, Threads: 1}
	memory := &kubevirtv1.Memory{}
	if it != nil {
		cpu.Sockets = it.CPU.Guest
		if it.CPU.Model != nil {
			cpu.Model = *it.CPU.Model
		}
		cpu.DedicatedCPUPlacement = it.CPU.DedicatedCPUPlacement != nil && *it.CPU.DedicatedCPUPlacement
		cpu.IsolateEmulatorThread = it.CPU.IsolateEmulatorThread != nil && *it.CPU.IsolateEmulatorThread
		cpu.NUMA = it.CPU.NUMA.DeepCopy()
		cpu.Realtime = it.CPU.Realtime.DeepCopy()
		guest := it.Memory.Guest.DeepCopy()
		memory.Guest = &guest
		memory.Hugepages = it.Memory.Hugepages.DeepCopy()
		domain.IOThreadsPolicy = it.IOThreadsPolicy
	} else if spec.InstanceType != "" {
		return fmt.Errorf("instance type %q is needed to expand its settings", spec.InstanceType)
	}
	if q := spec.Resources.CPU; q != nil {
		cpu.Sockets = uint32(q.Value())
		overrides = append(overrides, "cpu")
	}
	if q := spec.Resources.Memory; q != nil {
		guest := q.DeepCopy()
		memory.Guest = &guest
		overrides = append(overrides, "memory")
	}
	domain.CPU = cpu
	domain.Memory = memory
	setKeyIf(&vm.Annotations, backendnames.OverridesAnnotation, strings.Join(overrides, ","))
	return nil
}

func setNetwork(spec *kubevirtv1.VirtualMachineInstanceSpec) {
	spec.Networks = []kubevirtv1.Network{{Name: podNetwork, NetworkSource: kubevirtv1.NetworkSource{Pod: &kubevirtv1.PodNetwork{}}}}
	spec.Domain.Devices.Interfaces = []kubevirtv1.Interface{{
		Name: podNetwork, InterfaceBindingMethod: kubevirtv1.InterfaceBindingMethod{Masquerade: &kubevirtv1.InterfaceMasquerade{}},
	}}
}

// setDisks writes the disks and volumes in boot order and returns the
// DataVolume templates of the inline disks: the first is cloned from the
// profile's image (blank without one), the others are blank.
func setDisks(vm *kubevirtv1.VirtualMachine, inst *apps.VMInstance, in VMInstanceInputs) []kubevirtv1.DataVolumeTemplateSpec {
	spec := &vm.Spec.Template.Spec
	spec.Domain.Devices.Disks = nil
	spec.Volumes = nil
	var templates []kubevirtv1.DataVolumeTemplateSpec
	for i, d := range inst.Spec.Disks {
		bootOrder := uint(i + 1)
		disk := kubevirtv1.Disk{Name: d.Name, BootOrder: &bootOrder}
		volume := kubevirtv1.Volume{Name: d.Name}
		switch {
		case d.Size != nil:
			dvName := backendnames.DiskDataVolumeName(inst.Name, d.Name)
			volume.DataVolume = &kubevirtv1.DataVolumeSource{Name: dvName}
			disk.Disk = &kubevirtv1.DiskTarget{Bus: kubevirtv1.DiskBus(d.Bus)}
			templates = append(templates, inlineDiskTemplate(inst.Name, dvName, d, len(templates) == 0, in.Profile))
		case in.Optical[d.Name]:
			volume.DataVolume = &kubevirtv1.DataVolumeSource{Name: d.Name}
			bus := kubevirtv1.DiskBus(d.Bus)
			if bus == "" {
				// KubeVirt refuses virtio CD-ROMs; sata works everywhere.
				bus = kubevirtv1.DiskBusSATA
			}
			disk.CDRom = &kubevirtv1.CDRomTarget{Bus: bus}
		default:
			volume.DataVolume = &kubevirtv1.DataVolumeSource{Name: d.Name}
			disk.Disk = &kubevirtv1.DiskTarget{Bus: kubevirtv1.DiskBus(d.Bus)}
		}
		addVolume(spec, volume, disk)
	}
	return templates
}

func inlineDiskTemplate(instance, name string, d apps.VMInstanceDisk, root bool, profile catalogue.Profile) kubevirtv1.DataVolumeTemplateSpec {
	class := d.StorageClass
	tmpl := kubevirtv1.DataVolumeTemplateSpec{
		// The label tells the DataVolume KubeVirt makes from the template
		// from any other of the same name (a VMDisk, another VMInstance's).
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{backendnames.InstanceLabel: instance}},
		Spec: cdiv1.DataVolumeSpec{Storage: &cdiv1.StorageSpec{
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: d.Size.DeepCopy()}},
			StorageClassName: &class,
		}},
	}
	if root && profile.Image != "" {
		namespace := profile.ImagesNamespace
		tmpl.Spec.SourceRef = &cdiv1.DataVolumeSourceRef{Kind: cdiv1.DataVolumeDataSource, Namespace: &namespace, Name: profile.Image}
	} else {
		tmpl.Spec.Source = &cdiv1.DataVolumeSource{Blank: &cdiv1.DataVolumeBlankImage{}}
	}
	return tmpl
}

func addVolume(spec *kubevirtv1.VirtualMachineInstanceSpec, volume kubevirtv1.Volume, disk kubevirtv1.Disk) {
	spec.Volumes = append(spec.Volumes, volume)
	spec.Domain.Devices.Disks = append(spec.Domain.Devices.Disks, disk)
}

// setKeyIf sets key in *m to value, or removes it when value is empty.
func setKeyIf(m *map[string]string, key, value string) {
	if value == "" {
		delete(*m, key)
		return
	}
	if *m == nil {
		*m = map[string]string{}
	}
	(*m)[key] = value
}
