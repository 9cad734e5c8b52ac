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
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/cozystack/vm-apiserver/pkg/backendnames"
)

// DiskStorage is the size a VMDisk shows: the larger of its DataVolume's
// request and the size its claim was grown to, so that the public spec
// says what the user set. nil when the DataVolume requests none.
func DiskStorage(dv *cdiv1.DataVolume) *resource.Quantity {
	var size *resource.Quantity
	if dv.Spec.Storage != nil {
		if q, ok := dv.Spec.Storage.Resources.Requests[corev1.ResourceStorage]; ok {
			size = &q
		}
	}
	if raw, ok := dv.Annotations[backendnames.GrownStorageAnnotation]; ok {
		if grown, err := resource.ParseQuantity(raw); err == nil && (size == nil || grown.Cmp(*size) > 0) {
			size = &grown
		}
	}
	return size
}

// withStorage records size as dv's size: the DataVolume's spec is left
// alone (CDI refuses changes to it), and a size above its request is the
// grown size.
func withStorage(dv *cdiv1.DataVolume, size *resource.Quantity) {
	delete(dv.Annotations, backendnames.GrownStorageAnnotation)
	if size == nil {
		return
	}
	if requested := DiskStorage(dv); requested != nil && size.Cmp(*requested) > 0 {
		dv.Annotations = setKey(dv.Annotations, backendnames.GrownStorageAnnotation, size.String())
	}
}

// Grows says whether updated, written over current, asks for more storage
// than current has: then the disk's claim must grow to DiskStorage(updated).
func Grows(current, updated *cdiv1.DataVolume) bool {
	before, after := DiskStorage(current), DiskStorage(updated)
	return after != nil && (before == nil || after.Cmp(*before) > 0)
}

// ClaimName is the PersistentVolumeClaim CDI makes for dv: the one its
// status names, else the DataVolume's own name, which CDI gives it.
func ClaimName(dv *cdiv1.DataVolume) string {
	if dv.Status.ClaimName != "" {
		return dv.Status.ClaimName
	}
	return dv.Name
}

// GrowthRefused says why a claim cannot grow now; it is about the VMDisk's
// spec.storage.
type GrowthRefused struct{ Reason string }

func (g *GrowthRefused) Error() string { return g.Reason }

// GrownClaim is claim with its storage request raised to size, or nil
// when it already requests that much. Kubernetes expands only bound
// claims: an unbound one (with WaitForFirstConsumer, a disk no running
// VMInstance has used yet) is refused, as kube-apiserver refuses resizing
// an unbound PVC.
func GrownClaim(claim *corev1.PersistentVolumeClaim, size resource.Quantity) (*corev1.PersistentVolumeClaim, error) {
	if current, ok := claim.Spec.Resources.Requests[corev1.ResourceStorage]; ok && current.Cmp(size) >= 0 {
		return nil, nil
	}
	if claim.Status.Phase != corev1.ClaimBound {
		phase := claim.Status.Phase
		if phase == "" {
			phase = corev1.ClaimPending
		}
		return nil, &GrowthRefused{Reason: fmt.Sprintf(
			"the disk can grow once its volume is bound (PersistentVolumeClaim %s is %s; Kubernetes expands only bound claims, and with a WaitForFirstConsumer storage class a claim binds when a running VMInstance first uses the disk)",
			claim.Name, phase)}
	}
	out := claim.DeepCopy()
	if out.Spec.Resources.Requests == nil {
		out.Spec.Resources.Requests = corev1.ResourceList{}
	}
	out.Spec.Resources.Requests[corev1.ResourceStorage] = size.DeepCopy()
	return out, nil
}
