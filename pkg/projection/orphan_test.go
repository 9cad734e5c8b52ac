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
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestOrphans(t *testing.T) {
	orphan, background := metav1.DeletePropagationOrphan, metav1.DeletePropagationBackground
	cases := []struct {
		options metav1.DeleteOptions
		want    bool
	}{
		{metav1.DeleteOptions{}, false},
		{metav1.DeleteOptions{PropagationPolicy: &orphan}, true},
		{metav1.DeleteOptions{PropagationPolicy: &background}, false},
		{metav1.DeleteOptions{OrphanDependents: ptr(true)}, true},
		{metav1.DeleteOptions{OrphanDependents: ptr(false)}, false},
	}
	for _, c := range cases {
		if got := Orphans(c.options); got != c.want {
			t.Errorf("%+v: got %v", c.options, got)
		}
	}
}

func TestOwnedRevisions(t *testing.T) {
	vm := &metav1.ObjectMeta{Name: "web", UID: "vm-uid"}
	revision := func(name string, uid types.UID, controller bool) appsv1.ControllerRevision {
		return appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: name, OwnerReferences: []metav1.OwnerReference{{Name: "web", UID: uid, Kind: "VirtualMachine", APIVersion: "kubevirt.io/v1", Controller: &controller}}}}
	}
	revisions := []appsv1.ControllerRevision{revision("mine", "vm-uid", true), revision("other", "other-uid", true), revision("not-controller", "vm-uid", false), {}}
	got := OwnedRevisions(vm, revisions)
	if len(got) != 1 || got[0] != "mine" {
		t.Fatalf("got %v", got)
	}
}
