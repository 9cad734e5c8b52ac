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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cozystack/vm-apiserver/pkg/backendnames"
)

// PublicMeta is the public object metadata of a primary backend object:
// identity, versioning and lifecycle come from the backend object; reserved
// labels and annotations are removed and managedFields restored.
func PublicMeta(backend *metav1.ObjectMeta) (metav1.ObjectMeta, error) {
	meta := *backend.DeepCopy()
	meta.Labels = withoutReserved(meta.Labels)
	meta.Annotations = withoutReserved(meta.Annotations)
	meta.ManagedFields = nil
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
	meta.Finalizers = public.Finalizers
	meta.OwnerReferences = public.OwnerReferences
	meta.Labels = withReserved(public.Labels, meta.Labels)
	meta.Labels[backendnames.KindLabel] = kind
	meta.Annotations = withReserved(public.Annotations, meta.Annotations)
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

func withoutReserved(in map[string]string) map[string]string {
	var out map[string]string
	for k, v := range in {
		if backendnames.IsReservedKey(k) {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(in))
		}
		out[k] = v
	}
	return out
}

// withReserved is the user's keys plus the reserved keys of the existing map.
func withReserved(user, existing map[string]string) map[string]string {
	out := make(map[string]string, len(user)+1)
	for k, v := range existing {
		if backendnames.IsReservedKey(k) {
			out[k] = v
		}
	}
	for k, v := range user {
		if !backendnames.IsReservedKey(k) {
			out[k] = v
		}
	}
	return out
}

// LatestResourceVersion is the newest of versions, the first if none is
// newer. A public object read from several backend objects takes the newest
// of their resourceVersions, so that it changes whenever any of them does
// (clients skip updates that keep the resourceVersion). kube-apiserver's
// resourceVersions are etcd revisions, global and increasing: a watch
// resumed from the newest one misses no later change of any of them.
// Versions that are not revisions are never chosen over the first.
func LatestResourceVersion(versions ...string) string {
	if len(versions) == 0 {
		return ""
	}
	latest := versions[0]
	newest, err := strconv.ParseUint(latest, 10, 64)
	if err != nil {
		return latest
	}
	for _, v := range versions[1:] {
		if n, err := strconv.ParseUint(v, 10, 64); err == nil && n > newest {
			latest, newest = v, n
		}
	}
	return latest
}
