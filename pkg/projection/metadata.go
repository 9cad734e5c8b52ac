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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/cozystack/vm-apiserver/pkg/backendnames"
)

// backendAnnotations are the annotations KubeVirt's and CDI's controllers
// and webhooks keep on the VMs and DataVolumes vm-apiserver writes, for
// themselves: API versions virt-controller observed, CDI's choice of
// populator or clone strategy, its clone authorisation tokens. A user
// cannot act on them, so public objects do not show them, and writes keep
// them as the backend has them (a value the client sends is ignored), so
// that a `kubectl get -o yaml | kubectl apply -f -` round trip is no change.
var backendAnnotations = map[string]bool{
	"kubevirt.io/latest-observed-api-version":      true,
	"kubevirt.io/storage-observed-api-version":     true,
	"cdi.kubevirt.io/storage.usePopulator":         true,
	"cdi.kubevirt.io/storage.prePopulated":         true,
	"cdi.kubevirt.io/cloneType":                    true,
	"cdi.kubevirt.io/storage.clone.token":          true,
	"cdi.kubevirt.io/storage.extended.clone.token": true,
}

// markObservedAPIVersion sets on a new VM the API versions virt-controller
// records on every VM it has not seen, in an update of its own before
// anything else: a VM created at kubevirt.io/v1 is stored at that version,
// so the create carries the record and spares that second write, which
// raced vm-apiserver's own. A KubeVirt with a newer API still writes its
// own record.
func markObservedAPIVersion(meta *metav1.ObjectMeta) {
	if meta.Annotations == nil {
		meta.Annotations = map[string]string{}
	}
	meta.Annotations[kubevirtv1.ControllerAPILatestVersionObservedAnnotation] = kubevirtv1.ApiLatestVersion
	meta.Annotations[kubevirtv1.ControllerAPIStorageVersionObservedAnnotation] = kubevirtv1.ApiStorageVersion
}

// backendFinalizers are the finalizers the backend's controllers keep on
// the objects vm-apiserver writes (virt-controller's on every VM, removed
// once it let the VM's instance go), hidden and kept like
// backendAnnotations. Kubernetes' own (orphan, foregroundDeletion) and
// vm-apiserver's in-use protection of VMDisks show, as on built-in objects.
var backendFinalizers = map[string]bool{
	"kubevirt.io/virtualMachineControllerFinalize": true,
}

// isHidden says whether an annotation key or finalizer is the backend's or
// vm-apiserver's own and not shown on public objects.
func isHidden(key string, backend map[string]bool) bool {
	return backendnames.IsReservedKey(key) || backend[key]
}

// PublicMeta is the public object metadata of a primary backend object:
// identity, versioning and lifecycle come from the backend object; reserved
// labels and annotations are removed and managedFields restored.
func PublicMeta(backend *metav1.ObjectMeta) (metav1.ObjectMeta, error) {
	// The backend's own managedFields, and what is rebuilt below, are left
	// out of the copy: a list copies them for every object.
	shallow := *backend
	shallow.ManagedFields, shallow.Labels, shallow.Annotations, shallow.Finalizers = nil, nil, nil, nil
	meta := *shallow.DeepCopy()
	meta.Labels = withoutReserved(backend.Labels, nil)
	meta.Annotations = withoutReserved(backend.Annotations, backendAnnotations)
	meta.Finalizers = withoutBackendFinalizers(backend.Finalizers)
	if raw, ok := backend.Annotations[backendnames.ManagedFieldsAnnotation]; ok {
		if err := json.Unmarshal([]byte(raw), &meta.ManagedFields); err != nil {
			return metav1.ObjectMeta{}, fmt.Errorf("annotation %s: %w", backendnames.ManagedFieldsAnnotation, err)
		}
	}
	return meta, nil
}

// BackendMeta is the metadata of the primary backend object for a public
// object of the given kind. existing is the current backend metadata on
// update and nil on create: what the backend owns (uid, creation time,
// reserved keys the caller sets afterwards) is kept from it.
func BackendMeta(public *metav1.ObjectMeta, existing *metav1.ObjectMeta, kind string) (metav1.ObjectMeta, error) {
	var meta metav1.ObjectMeta
	if existing != nil {
		meta = *existing.DeepCopy()
	}
	meta.Name = public.Name
	meta.GenerateName = public.GenerateName
	meta.Namespace = public.Namespace
	meta.ResourceVersion = public.ResourceVersion
	meta.Finalizers = withoutBackendFinalizers(public.Finalizers)
	if existing != nil {
		for _, f := range existing.Finalizers {
			if backendFinalizers[f] {
				meta.Finalizers = append(meta.Finalizers, f)
			}
		}
	}
	meta.OwnerReferences = public.OwnerReferences
	meta.Labels = withReserved(public.Labels, meta.Labels, nil)
	meta.Labels[backendnames.KindLabel] = kind
	meta.Annotations = withReserved(public.Annotations, meta.Annotations, backendAnnotations)
	delete(meta.Annotations, backendnames.ManagedFieldsAnnotation)
	if len(public.ManagedFields) > 0 {
		raw, err := json.Marshal(public.ManagedFields)
		if err != nil {
			return metav1.ObjectMeta{}, err
		}
		meta.Annotations[backendnames.ManagedFieldsAnnotation] = string(raw)
	}
	if len(meta.Annotations) == 0 {
		meta.Annotations = nil
	}
	// The backend keeps its own managedFields for the backend object.
	meta.ManagedFields = nil
	return meta, nil
}

func withoutReserved(in map[string]string, backend map[string]bool) map[string]string {
	var out map[string]string
	for k, v := range in {
		if isHidden(k, backend) {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(in))
		}
		out[k] = v
	}
	return out
}

// withReserved is the user's keys plus the hidden keys (vm-apiserver's and
// the backend's own) of the existing map.
func withReserved(user, existing map[string]string, backend map[string]bool) map[string]string {
	out := make(map[string]string, len(user)+1)
	for k, v := range existing {
		if isHidden(k, backend) {
			out[k] = v
		}
	}
	for k, v := range user {
		if !isHidden(k, backend) {
			out[k] = v
		}
	}
	return out
}

// withoutBackendFinalizers is finalizers without the backend's own.
func withoutBackendFinalizers(finalizers []string) []string {
	var out []string
	for _, f := range finalizers {
		if !backendFinalizers[f] {
			out = append(out, f)
		}
	}
	return out
}
