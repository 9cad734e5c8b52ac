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
	corev1 "k8s.io/api/core/v1"
	kubevirtv1 "kubevirt.io/api/core/v1"
	instancetypev1beta1 "kubevirt.io/api/instancetype/v1beta1"

	"github.com/cozystack/vm-apiserver/pkg/catalogue"
)

// Keys of the cloud-init and SSH keys Secrets, and the VM's one network.
const (
	userDataKey     = "userdata"
	sshKeyPrefix    = "key"
	minimalUserData = "#cloud-config\n"
	podNetwork      = "default"
)

// VMInstanceBackend is every backend object of one VMInstance. The VM is
// always there; the others may be nil.
type VMInstanceBackend struct {
	VM        *kubevirtv1.VirtualMachine
	Service   *corev1.Service
	CloudInit *corev1.Secret
	SSHKeys   *corev1.Secret
	// VMI is read for status only.
	VMI *kubevirtv1.VirtualMachineInstance
}

// VMInstanceInputs are the cluster facts a VMInstance's backend objects
// depend on, looked up by the caller.
type VMInstanceInputs struct {
	// Profile is the catalogue entry of spec.instanceProfile.
	Profile catalogue.Profile
	// InstanceType is the spec of spec.instanceType; needed when resources
	// override it (its other settings are expanded into the VM).
	InstanceType *instancetypev1beta1.VirtualMachineInstancetypeSpec
	// Optical says which attached VMDisks are optical.
	Optical map[string]bool
}

// Running says whether vm is asked to run: by its run strategy, or by
// the legacy spec.running of a VM that has none.
func Running(vm *kubevirtv1.VirtualMachine) bool {
	if vm.Spec.RunStrategy == nil && vm.Spec.Running != nil {
		return *vm.Spec.Running
	}
	return vm.Spec.RunStrategy == nil || *vm.Spec.RunStrategy != kubevirtv1.RunStrategyHalted
}
