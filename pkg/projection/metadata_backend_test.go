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
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cozystack/vm-apiserver/pkg/backendnames"
)

// TestBackendKeysAreHiddenAndKept checks that the annotations and
// finalizers KubeVirt and CDI keep for themselves on backend objects do not
// show on public objects, and that a write keeps them as the backend has
// them whatever the client sends, while the user's own and Kubernetes'
// finalizers pass.
func TestBackendKeysAreHiddenAndKept(t *testing.T) {
	backend := &metav1.ObjectMeta{
		Name: "web", Namespace: "ns",
		Labels: map[string]string{backendnames.KindLabel: backendnames.VMInstanceKind, "app": "web"},
		Annotations: map[string]string{
			"kubevirt.io/latest-observed-api-version":  "v1",
			"kubevirt.io/storage-observed-api-version": "v1",
			"note": "mine",
		},
		Finalizers: []string{"kubevirt.io/virtualMachineControllerFinalize", "example.com/mine", metav1.FinalizerOrphanDependents},
	}
	public, err := PublicMeta(backend)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(public.Annotations, map[string]string{"note": "mine"}) {
		t.Errorf("public annotations: %v", public.Annotations)
	}
	if !reflect.DeepEqual(public.Finalizers, []string{"example.com/mine", metav1.FinalizerOrphanDependents}) {
		t.Errorf("public finalizers: %v", public.Finalizers)
	}

	// The client restates a stale backend key and drops its own finalizer.
	public.Annotations["kubevirt.io/storage-observed-api-version"] = "v1alpha3"
	public.Finalizers = []string{"kubevirt.io/virtualMachineControllerFinalize"}
	written, err := BackendMeta(&public, backend, backendnames.VMInstanceKind)
	if err != nil {
		t.Fatal(err)
	}
	if written.Annotations["kubevirt.io/storage-observed-api-version"] != "v1" || written.Annotations["kubevirt.io/latest-observed-api-version"] != "v1" || written.Annotations["note"] != "mine" {
		t.Errorf("written annotations: %v", written.Annotations)
	}
	if !reflect.DeepEqual(written.Finalizers, []string{"kubevirt.io/virtualMachineControllerFinalize"}) {
		t.Errorf("written finalizers: %v", written.Finalizers)
	}

	// A create carries no backend keys, whatever the client sends.
	created, err := BackendMeta(&public, nil, backendnames.VMInstanceKind)
	if err != nil {
		t.Fatal(err)
	}
	if len(created.Finalizers) != 0 || created.Annotations["kubevirt.io/storage-observed-api-version"] != "" {
		t.Errorf("created: %v %v", created.Finalizers, created.Annotations)
	}
}
