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
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubevirtv1 "kubevirt.io/api/core/v1"
	instancetypev1beta1 "kubevirt.io/api/instancetype/v1beta1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
)

// VMInstanceFrom is the VMInstance its backend objects store. instancetype
// is the spec of the VM's instance type when known, for the effective size
// of a machine that is not running.
func VMInstanceFrom(b *VMInstanceBackend, instancetype *instancetypev1beta1.VirtualMachineInstancetypeSpec) (*apps.VMInstance, error) {
	vm := b.VM
	meta, err := PublicMeta(&vm.ObjectMeta)
	if err != nil {
		return nil, err
	}
	inst := &apps.VMInstance{ObjectMeta: meta}
	// The VM's own: every change of the other objects that shows in the
	// VMInstance is recorded on the VM (OwnedVersionsAnnotation), so the VM's
	// resourceVersion orders them all, and one watch of VMs carries them.
	inst.ResourceVersion = vm.ResourceVersion
	spec := &inst.Spec
	running := Running(vm)
	spec.Running = &running
	spec.InstanceProfile = vm.Annotations[backendnames.ProfileAnnotation]
	if spec.InstanceProfile == "" && vm.Spec.Preference != nil {
		spec.InstanceProfile = vm.Spec.Preference.Name
	}
	if vm.Spec.Instancetype != nil {
		spec.InstanceType = vm.Spec.Instancetype.Name
	} else {
		spec.InstanceType = vm.Annotations[backendnames.InstanceTypeAnnotation]
	}
	var tmpl *kubevirtv1.VirtualMachineInstanceSpec
	if vm.Spec.Template != nil {
		tmpl = &vm.Spec.Template.Spec
	} else {
		tmpl = &kubevirtv1.VirtualMachineInstanceSpec{}
	}
	spec.Resources = resourcesFrom(vm.Annotations[backendnames.OverridesAnnotation], &tmpl.Domain)
	if spec.Disks, err = disksFrom(vm, tmpl); err != nil {
		return nil, err
	}
	if b.Service != nil {
		spec.External = true
		for _, p := range b.Service.Spec.Ports {
			spec.ExternalPorts = append(spec.ExternalPorts, apps.ExternalPort{Port: p.Port, Protocol: string(p.Protocol), TargetPort: p.TargetPort.IntVal})
		}
	} else if raw, ok := vm.Annotations[backendnames.PortsAnnotation]; ok {
		if err := json.Unmarshal([]byte(raw), &spec.ExternalPorts); err != nil {
			return nil, fmt.Errorf("annotation %s: %w", backendnames.PortsAnnotation, err)
		}
	}
	if b.CloudInit != nil && b.CloudInit.Annotations[backendnames.MinimalUserDataAnnotation] != "true" {
		spec.CloudInit = string(b.CloudInit.Data[userDataKey])
	}
	spec.SSHKeys = sshKeysFrom(b.SSHKeys)
	inst.Status = vmInstanceStatus(b, instancetype, running)
	return inst, nil
}

func resourcesFrom(overrides string, domain *kubevirtv1.DomainSpec) *apps.VMResources {
	if overrides == "" {
		return nil
	}
	res := &apps.VMResources{}
	for _, field := range strings.Split(overrides, ",") {
		switch {
		case field == "cpu" && domain.CPU != nil:
			res.CPU = resource.NewQuantity(int64(vcpus(domain.CPU)), resource.DecimalSI)
		case field == "memory" && domain.Memory != nil && domain.Memory.Guest != nil:
			q := domain.Memory.Guest.DeepCopy()
			res.Memory = &q
		}
	}
	return res
}

func vcpus(cpu *kubevirtv1.CPU) uint32 {
	n := uint32(1)
	for _, f := range []uint32{cpu.Sockets, cpu.Cores, cpu.Threads} {
		if f > 0 {
			n *= f
		}
	}
	return n
}

// disksFrom reads the disks back in boot (list) order: a volume whose
// DataVolume is one of the VM's templates is an inline disk, any other
// DataVolume an attached VMDisk.
func disksFrom(vm *kubevirtv1.VirtualMachine, tmpl *kubevirtv1.VirtualMachineInstanceSpec) ([]apps.VMInstanceDisk, error) {
	templates := map[string]*kubevirtv1.DataVolumeTemplateSpec{}
	for i := range vm.Spec.DataVolumeTemplates {
		templates[vm.Spec.DataVolumeTemplates[i].Name] = &vm.Spec.DataVolumeTemplates[i]
	}
	volumes := map[string]*kubevirtv1.Volume{}
	for i := range tmpl.Volumes {
		volumes[tmpl.Volumes[i].Name] = &tmpl.Volumes[i]
	}
	var disks []apps.VMInstanceDisk
	for _, d := range tmpl.Domain.Devices.Disks {
		if d.Name == backendnames.CloudInitVolume {
			continue
		}
		volume := volumes[d.Name]
		if volume == nil || volume.DataVolume == nil {
			return nil, fmt.Errorf("disk %q is not backed by a DataVolume", d.Name)
		}
		disk := apps.VMInstanceDisk{Name: d.Name}
		switch {
		case d.Disk != nil:
			disk.Bus = string(d.Disk.Bus)
		case d.CDRom != nil && d.CDRom.Bus != kubevirtv1.DiskBusSATA:
			disk.Bus = string(d.CDRom.Bus)
		}
		if t, ok := templates[volume.DataVolume.Name]; ok {
			if t.Spec.Storage != nil {
				if size, ok := t.Spec.Storage.Resources.Requests[corev1.ResourceStorage]; ok {
					disk.Size = &size
				}
				if t.Spec.Storage.StorageClassName != nil {
					disk.StorageClass = *t.Spec.Storage.StorageClassName
				}
			}
		}
		disks = append(disks, disk)
	}
	return disks, nil
}

func sshKeysFrom(secret *corev1.Secret) []string {
	if secret == nil {
		return nil
	}
	type indexed struct {
		i   int
		key string
	}
	var keys []indexed
	for name, value := range secret.Data {
		if i, err := strconv.Atoi(strings.TrimPrefix(name, sshKeyPrefix)); err == nil && strings.HasPrefix(name, sshKeyPrefix) {
			keys = append(keys, indexed{i, string(value)})
		}
	}
	sort.Slice(keys, func(a, b int) bool { return keys[a].i < keys[b].i })
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k.key)
	}
	return out
}

func vmInstanceStatus(b *VMInstanceBackend, instancetype *instancetypev1beta1.VirtualMachineInstancetypeSpec, running bool) apps.VMInstanceStatus {
	vm := b.VM
	status := apps.VMInstanceStatus{
		Phase:              string(vm.Status.PrintableStatus),
		Ready:              vm.Status.Ready,
		ObservedGeneration: observedGeneration(vm.Status.ObservedGeneration, vm.Generation),
	}
	var conditions []metav1.Condition
	for _, c := range vm.Status.Conditions {
		// virt-controller leaves the transition time of some conditions
		// empty; a metav1.Condition requires one, and kubectl refuses to
		// apply back a VMInstance without it.
		since := c.LastTransitionTime
		if since.IsZero() {
			since = c.LastProbeTime
		}
		if since.IsZero() {
			since = vm.CreationTimestamp
		}
		conditions = append(conditions, metav1.Condition{
			Type:               string(c.Type),
			Status:             metav1.ConditionStatus(c.Status),
			LastTransitionTime: since,
			Reason:             c.Reason,
			Message:            c.Message,
		})
	}
	status.Conditions = withReadiness(conditions, vmInstanceReadiness(vm, b.VMI, running))
	if b.Service != nil {
		if ingress := b.Service.Status.LoadBalancer.Ingress; len(ingress) > 0 {
			status.ExternalIP = ingress[0].IP
			if status.ExternalIP == "" {
				status.ExternalIP = ingress[0].Hostname
			}
		}
	}
	var domain *kubevirtv1.DomainSpec
	if vm.Spec.Template != nil {
		domain = &vm.Spec.Template.Spec.Domain
	}
	if vmi := b.VMI; vmi != nil {
		status.NodeName = vmi.Status.NodeName
		for _, iface := range vmi.Status.Interfaces {
			ips := iface.IPs
			if len(ips) == 0 && iface.IP != "" {
				ips = []string{iface.IP}
			}
			status.IPAddresses = append(status.IPAddresses, ips...)
		}
		// The running machine's domain is what it really got.
		domain = &vmi.Spec.Domain
	}
	if domain != nil && domain.CPU != nil {
		status.CPU = resource.NewQuantity(int64(vcpus(domain.CPU)), resource.DecimalSI)
	} else if instancetype != nil {
		status.CPU = resource.NewQuantity(int64(instancetype.CPU.Guest), resource.DecimalSI)
	}
	if domain != nil && domain.Memory != nil && domain.Memory.Guest != nil {
		q := domain.Memory.Guest.DeepCopy()
		status.Memory = &q
	} else if instancetype != nil {
		q := instancetype.Memory.Guest.DeepCopy()
		status.Memory = &q
	}
	return status
}

// AttachedVMDisks are the VMDisks (DataVolumes not made from the VM's own
// templates) that vm attaches.
func AttachedVMDisks(vm *kubevirtv1.VirtualMachine) []string {
	if vm.Spec.Template == nil {
		return nil
	}
	templates := map[string]bool{}
	for _, t := range vm.Spec.DataVolumeTemplates {
		templates[t.Name] = true
	}
	var names []string
	for _, v := range vm.Spec.Template.Spec.Volumes {
		if v.DataVolume != nil && !templates[v.DataVolume.Name] {
			names = append(names, v.DataVolume.Name)
		}
	}
	return names
}
