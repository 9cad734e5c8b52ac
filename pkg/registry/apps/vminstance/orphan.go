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
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/cozystack/vm-apiserver/pkg/projection"
	"github.com/cozystack/vm-apiserver/pkg/registry/backendstore"
)

// AfterDelete lets an orphaning delete (`kubectl delete --cascade=orphan`)
// complete. The garbage collector orphans the VM's dependents before it
// lets the VM go: the Service, Secrets, DataVolumes and VMI stay, as the
// user asked. But it cannot orphan the ControllerRevisions virt-controller
// keeps of the VM's instance type and preference: taking the owner
// reference off one is refused ("data: field is immutable", their stored
// data does not survive the round trip), so the VM, and the VMInstance,
// would stay Terminating for ever. Those revisions are KubeVirt's private
// record of this VM, of no use without it (a VM made again gets its own):
// they are deleted with it, as a background delete would.
func (v *virtualMachines) AfterDelete(ctx context.Context, vm *kubevirtv1.VirtualMachine, options metav1.DeleteOptions) {
	if !projection.Orphans(options) {
		return
	}
	revisions := v.Kube.AppsV1().ControllerRevisions(vm.Namespace)
	list, err := revisions.List(ctx, metav1.ListOptions{})
	if err != nil {
		klog.ErrorS(err, "Could not list the ControllerRevisions of an orphaned VM", "namespace", vm.Namespace, "name", vm.Name)
		return
	}
	for _, name := range projection.OwnedRevisions(vm, list.Items) {
		if err := revisions.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			klog.ErrorS(err, "Could not delete a ControllerRevision of an orphaned VM", "namespace", vm.Namespace, "name", name)
		}
	}
}

var _ backendstore.DeleteFollower[*kubevirtv1.VirtualMachine] = &virtualMachines{}
