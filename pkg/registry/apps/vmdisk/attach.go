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

package vmdisk

import (
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/cozystack/vm-apiserver/pkg/projection"
)

// RefuseAttachingDeleted is the error for a VMInstance attaching the VMDisk
// of dv as fldPath (spec.disks[i].name), or nil; current is the
// VMInstance's VirtualMachine before the write (nil on create). A deleted
// VMDisk only waits for the VMInstances that already attach it to let it
// go: attaching it anew would keep it forever, or find it gone. A
// VMInstance that already attaches it keeps it, and may be changed
// otherwise, until it detaches it or is deleted.
func RefuseAttachingDeleted(dv *cdiv1.DataVolume, current *kubevirtv1.VirtualMachine, fldPath *field.Path) *field.Error {
	if dv.DeletionTimestamp == nil || current != nil && slices.Contains(projection.AttachedVMDisks(current), dv.Name) {
		return nil
	}
	return field.Invalid(fldPath, dv.Name, "the VMDisk is being deleted (Terminating) and cannot be attached")
}
