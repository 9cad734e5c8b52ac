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

package vminstance

import (
	corev1 "k8s.io/api/core/v1"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps/v1alpha1"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
	"github.com/cozystack/vm-apiserver/pkg/projection"
)

// Event reasons the server records on VMInstances.
const (
	reasonCreated        = "Created"
	reasonStarted        = "Started"
	reasonStopped        = "Stopped"
	reasonExposed        = "Exposed"
	reasonUnexposed      = "Unexposed"
	reasonBackendUpdated = "Updated"
)

// reference points an event at the public VMInstance, so that kubectl
// describe vminstance lists it; its uid is the VM's.
func reference(vm *kubevirtv1.VirtualMachine) *corev1.ObjectReference {
	return &corev1.ObjectReference{
		APIVersion:      v1alpha1.SchemeGroupVersion.String(),
		Kind:            backendnames.VMInstanceKind,
		Namespace:       vm.Namespace,
		Name:            vm.Name,
		UID:             vm.UID,
		ResourceVersion: vm.ResourceVersion,
	}
}

// recordCreate tells what a create made.
func (v *virtualMachines) recordCreate(vm *kubevirtv1.VirtualMachine, b *projection.VMInstanceBackend) {
	msg := "Created VirtualMachine " + vm.Name
	if b.Service != nil {
		msg += " and LoadBalancer Service " + b.Service.Name
	}
	v.events.Event(reference(vm), corev1.EventTypeNormal, reasonCreated, msg)
}

// recordUpdate tells what an update changed that a tenant cares about;
// steps are the owned objects it wrote.
func (v *virtualMachines) recordUpdate(old, vm *kubevirtv1.VirtualMachine, steps []*ownedStep) {
	ref := reference(vm)
	switch {
	case projection.Running(old) && !projection.Running(vm):
		v.events.Event(ref, corev1.EventTypeNormal, reasonStopped, "Set the VirtualMachine's run strategy to Halted")
	case !projection.Running(old) && projection.Running(vm):
		v.events.Event(ref, corev1.EventTypeNormal, reasonStarted, "Set the VirtualMachine's run strategy to Always")
	}
	for _, s := range steps {
		switch {
		case s.object.kind != "Service":
		case s.before == nil:
			v.events.Event(ref, corev1.EventTypeNormal, reasonExposed, "Created LoadBalancer Service "+s.object.name)
		case s.object.desired == nil:
			v.events.Event(ref, corev1.EventTypeNormal, reasonUnexposed, "Deleted Service "+s.object.name)
		}
	}
	if old.Generation != vm.Generation {
		v.events.Eventf(ref, corev1.EventTypeNormal, reasonBackendUpdated, "Updated VirtualMachine %s to generation %d", vm.Name, vm.Generation)
	}
}
