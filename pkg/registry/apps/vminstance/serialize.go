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
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/cozystack/vm-apiserver/pkg/backendnames"
	"github.com/cozystack/vm-apiserver/pkg/projection"
)

// One VMInstance is several backend objects, and kube-apiserver checks a
// resourceVersion for one object at a time. The VirtualMachine is the record
// that serialises writers: a write that changes a Service or Secret first
// writes the VM with the WriteInProgress marker, under the resourceVersion
// it was read with, so that of two concurrent writers only one gets past
// it; then the owned objects; then the VM again without the marker. While
// the marker is there, every other write is a 409, and the last VM write
// gives the VMInstance a resourceVersion newer than anything read while the
// write was under way, so that no update based on such a read is accepted.
//
// A writer that died with the marker set would lock the VMInstance; a marker
// older than writeInProgressTimeout no longer counts.
const writeInProgressTimeout = 15 * time.Second

// checkNoWriteInProgress refuses a write while another one is under way.
func checkNoWriteInProgress(vm *kubevirtv1.VirtualMachine, now time.Time) error {
	marker, ok := vm.Annotations[backendnames.WriteInProgressAnnotation]
	if !ok {
		return nil
	}
	started, ok := backendnames.WriteMarkerStarted(marker)
	if !ok || now.Sub(started) > writeInProgressTimeout {
		return nil
	}
	return conflict(vm.Name, fmt.Errorf("another write of this VMInstance is under way; read it again and retry"))
}

// WriteInProgress tells watches that vm is in the middle of a write.
func (v *virtualMachines) WriteInProgress(vm *kubevirtv1.VirtualMachine) bool {
	return checkNoWriteInProgress(vm, time.Now()) != nil
}

// clearWriteMarker removes marker from the VM once its write is complete
// and records the versions the write left the owned objects at. It is a
// JSON patch that first tests that the VM is still the one written and
// still carries marker, which kube-apiserver checks against the stored VM:
// so the writes virt-controller makes to a VM meanwhile (finalizer, status)
// cannot make it fail, where an update under the resourceVersion read
// lost that race and cost a read and another try.
func (v *virtualMachines) clearWriteMarker(ctx context.Context, vm *kubevirtv1.VirtualMachine, marker string, versions projection.OwnedVersions) (*kubevirtv1.VirtualMachine, error) {
	patch, err := json.Marshal([]jsonPatchOp{
		{Op: "test", Path: "/metadata/uid", Value: string(vm.UID)},
		{Op: "test", Path: annotationPath(backendnames.WriteInProgressAnnotation), Value: marker},
		{Op: "remove", Path: annotationPath(backendnames.WriteInProgressAnnotation)},
		{Op: "add", Path: annotationPath(backendnames.OwnedVersionsAnnotation), Value: versions.Annotation()},
	})
	if err != nil {
		return nil, err
	}
	vms := v.KubeVirt.KubevirtV1().VirtualMachines(vm.Namespace)
	updated, err := vms.Patch(ctx, vm.Name, types.JSONPatchType, patch, metav1.PatchOptions{})
	if !apierrors.IsInvalid(err) {
		return updated, err
	}
	// A failed test is a 422 without field causes, as is any other
	// refusal of the patch: the VM says which it was.
	current, getErr := vms.Get(ctx, vm.Name, metav1.GetOptions{})
	if getErr == nil && (current.UID != vm.UID || current.Annotations[backendnames.WriteInProgressAnnotation] != marker) {
		return nil, conflict(vm.Name, fmt.Errorf("the VMInstance was replaced while it was written"))
	}
	return nil, err
}

// jsonPatchOp is one operation of an RFC 6902 JSON patch.
type jsonPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// annotationPath is the JSON pointer (RFC 6901) to an annotation.
func annotationPath(key string) string {
	return "/metadata/annotations/" + jsonPointerEscaper.Replace(key)
}

var jsonPointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// kubevirtRaceBackoff paces the retries of a VM update that lost a race
// with virt-controller, which writes a new VM's finalizer and status
// several times in its first second: client-go's DefaultRetry (five tries
// within about 50ms) gave up before it was done.
var kubevirtRaceBackoff = wait.Backoff{Steps: 12, Duration: 10 * time.Millisecond, Factor: 1.5, Jitter: 0.1, Cap: time.Second}

// restoreVM puts the VM's spec and metadata back as they were before a
// failed write (before), over what the write made of it.
func (v *virtualMachines) restoreVM(ctx context.Context, written, before *kubevirtv1.VirtualMachine) error {
	vms := v.KubeVirt.KubevirtV1().VirtualMachines(written.Namespace)
	current := written
	return retry.RetryOnConflict(kubevirtRaceBackoff, func() error {
		if current == nil {
			var err error
			if current, err = vms.Get(ctx, written.Name, metav1.GetOptions{}); err != nil {
				return err
			}
		}
		if current.UID != written.UID {
			return nil
		}
		next := current.DeepCopy()
		next.Labels = maps.Clone(before.Labels)
		next.Annotations = maps.Clone(before.Annotations)
		delete(next.Annotations, backendnames.WriteInProgressAnnotation)
		next.Spec = *before.Spec.DeepCopy()
		_, err := vms.Update(ctx, next, metav1.UpdateOptions{})
		if err != nil {
			current = nil
		}
		return err
	})
}

// deleteVM removes the VM a failed create made.
func (v *virtualMachines) deleteVM(ctx context.Context, vm *kubevirtv1.VirtualMachine) error {
	background := metav1.DeletePropagationBackground
	uid := vm.UID
	err := v.KubeVirt.KubevirtV1().VirtualMachines(vm.Namespace).Delete(ctx, vm.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &uid}, PropagationPolicy: &background,
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
