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

package e2e

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	appsv1alpha1 "github.com/cozystack/vm-apiserver/pkg/apis/apps/v1alpha1"
)

// TestConsistentListsShowEveryWrite lists VMInstances right after each
// write, with no resourceVersion, as kubectl and client-go do: the list,
// which vm-apiserver answers from its VM cache once kube-apiserver shows
// the cache current, must show the write whoever made it (through
// vm-apiserver, or to the VM directly), in this namespace and across all,
// and its resourceVersion must be at least the write's, so that a watch
// from it misses nothing.
func TestConsistentListsShowEveryWrite(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	instances := c.apps.AppsV1alpha1().VMInstances(ns)
	vms := kubevirtClient(t).KubevirtV1().VirtualMachines(ns)
	stopped := false
	if _, err := instances.Create(ctx, newInstance("listed", appsv1alpha1.VMInstanceSpec{Running: &stopped}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// listedAt lists in scope ("" for all namespaces) and returns the
	// VMInstance, nil if absent, and the list's resourceVersion.
	listedAt := func(scope string) (*appsv1alpha1.VMInstance, uint64) {
		t.Helper()
		list, err := c.apps.AppsV1alpha1().VMInstances(scope).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rv, err := strconv.ParseUint(list.ResourceVersion, 10, 64)
		if err != nil {
			t.Fatalf("list resourceVersion %q: %v", list.ResourceVersion, err)
		}
		for i := range list.Items {
			if item := &list.Items[i]; item.Namespace == ns && item.Name == "listed" {
				return item, rv
			}
		}
		return nil, rv
	}
	check := func(what, key, want string, written string) {
		t.Helper()
		at, err := strconv.ParseUint(written, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		for _, scope := range []string{ns, ""} {
			inst, rv := listedAt(scope)
			if inst == nil {
				t.Fatalf("%s: a list in %q right after does not show the VMInstance", what, scope)
			}
			if got := inst.Labels[key]; got != want {
				t.Errorf("%s: a list in %q right after shows %s=%q, want %q", what, scope, key, got, want)
			}
			if rv < at {
				t.Errorf("%s: a list in %q right after is at resourceVersion %d, before the write's %d", what, scope, rv, at)
			}
		}
	}
	for round := range 10 {
		value := strconv.Itoa(round)
		patch := []byte(fmt.Sprintf(`{"metadata":{"labels":{"through-vm-apiserver":%q}}}`, value))
		inst, err := instances.Patch(ctx, "listed", types.MergePatchType, patch, metav1.PatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		check("through vm-apiserver", "through-vm-apiserver", value, inst.ResourceVersion)

		patch = []byte(fmt.Sprintf(`{"metadata":{"labels":{"to-the-vm":%q}}}`, value))
		vm, err := vms.Patch(ctx, "listed", types.MergePatchType, patch, metav1.PatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		check("to the VM", "to-the-vm", value, vm.ResourceVersion)
	}
	if err := instances.Delete(ctx, "listed", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// Gone, or going while virt-controller lets the VM go.
	for _, scope := range []string{ns, ""} {
		if inst, _ := listedAt(scope); inst != nil && inst.DeletionTimestamp == nil {
			t.Errorf("a list in %q right after the delete shows the VMInstance not being deleted", scope)
		}
	}
}
