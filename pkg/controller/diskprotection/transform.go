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

package diskprotection

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/cozystack/vm-apiserver/pkg/backendnames"
)

// The informers hold every VMInstance VM and VMDisk DataVolume of the
// cluster; they keep only what the controller reads (the DataVolumes lose
// their managedFields), so that memory grows by little per object.

// attachmentsOnly keeps of a VM its identity, which DataVolumes it attaches
// (projection.AttachedVMDisks), and for the VMInstance join recorder (see
// VM) the record of its joined objects and its write marker. Nothing writes
// VMs from these copies.
func attachmentsOnly(obj any) (any, error) {
	vm, ok := obj.(*kubevirtv1.VirtualMachine)
	if !ok {
		return obj, nil
	}
	out := &kubevirtv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{
		Name: vm.Name, Namespace: vm.Namespace, UID: vm.UID, ResourceVersion: vm.ResourceVersion,
	}}
	for _, key := range []string{backendnames.OwnedVersionsAnnotation, backendnames.WriteInProgressAnnotation} {
		if v, ok := vm.Annotations[key]; ok {
			if out.Annotations == nil {
				out.Annotations = map[string]string{}
			}
			out.Annotations[key] = v
		}
	}
	for _, t := range vm.Spec.DataVolumeTemplates {
		out.Spec.DataVolumeTemplates = append(out.Spec.DataVolumeTemplates, kubevirtv1.DataVolumeTemplateSpec{ObjectMeta: metav1.ObjectMeta{Name: t.Name}})
	}
	if vm.Spec.Template != nil {
		out.Spec.Template = &kubevirtv1.VirtualMachineInstanceTemplateSpec{}
		for _, v := range vm.Spec.Template.Spec.Volumes {
			if v.DataVolume != nil {
				out.Spec.Template.Spec.Volumes = append(out.Spec.Template.Spec.Volumes, kubevirtv1.Volume{
					Name: v.Name, VolumeSource: kubevirtv1.VolumeSource{DataVolume: v.DataVolume},
				})
			}
		}
	}
	return out, nil
}
