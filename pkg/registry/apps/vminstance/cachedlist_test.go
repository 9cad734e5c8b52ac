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
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	metadatafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/cozystack/vm-apiserver/pkg/backend"
)

// vmCache is a VMCache whose copies a test sets, applying each change as
// an informer would: the copy first, then the handler.
type vmCache struct {
	mu       sync.Mutex
	vms      map[string]*kubevirtv1.VirtualMachine
	progress *backend.Progress
	// afterFirstRead, when set, runs once the first read of the copies
	// has returned them.
	afterFirstRead func()
}

func newVMCache(vms ...*kubevirtv1.VirtualMachine) *vmCache {
	c := &vmCache{vms: map[string]*kubevirtv1.VirtualMachine{}, progress: backend.NewProgress()}
	for _, vm := range vms {
		c.vms[key(vm.Namespace, vm.Name)] = vm
	}
	return c
}

func (c *vmCache) apply(vm *kubevirtv1.VirtualMachine) {
	c.mu.Lock()
	c.vms[key(vm.Namespace, vm.Name)] = vm
	c.mu.Unlock()
	c.progress.Handler().OnUpdate(nil, vm)
}

func (c *vmCache) VM(namespace, name string) (*kubevirtv1.VirtualMachine, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	vm, ok := c.vms[key(namespace, name)]
	return vm, ok
}

func (c *vmCache) VMs(namespace string) []*kubevirtv1.VirtualMachine {
	c.mu.Lock()
	var out []*kubevirtv1.VirtualMachine
	for _, vm := range c.vms {
		if namespace == "" || vm.Namespace == namespace {
			out = append(out, vm)
		}
	}
	after := c.afterFirstRead
	c.afterFirstRead = nil
	c.mu.Unlock()
	if after != nil {
		after()
	}
	return out
}

func (*vmCache) HasSynced() bool                 { return true }
func (c *vmCache) VMProgress() *backend.Progress { return c.progress }

func cachedVM(namespace, name, resourceVersion string, labels map[string]string) *kubevirtv1.VirtualMachine {
	return &kubevirtv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name,
		UID: types.UID(namespace + "-" + name), ResourceVersion: resourceVersion, Labels: labels}}
}

// listedAs is what kube-apiserver's metadata list answers: vms at
// resourceVersion, and how many times it was asked.
func listedAs(t *testing.T, resourceVersion string, vms ...*kubevirtv1.VirtualMachine) (*metadatafake.FakeMetadataClient, *int) {
	t.Helper()
	scheme := metadatafake.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	client := metadatafake.NewSimpleMetadataClient(scheme)
	lists := 0
	client.PrependReactor("list", "virtualmachines", func(clienttesting.Action) (bool, runtime.Object, error) {
		lists++
		out := &metav1.List{ListMeta: metav1.ListMeta{ResourceVersion: resourceVersion}}
		for _, vm := range vms {
			out.Items = append(out.Items, runtime.RawExtension{Object: &metav1.PartialObjectMetadata{ObjectMeta: vm.ObjectMeta}})
		}
		return true, out, nil
	})
	return client, &lists
}

func names(vms []*kubevirtv1.VirtualMachine) []string {
	var out []string
	for _, vm := range vms {
		out = append(out, key(vm.Namespace, vm.Name))
	}
	return out
}

func TestListCachedServesACacheThatHoldsWhatWasListed(t *testing.T) {
	a, b := cachedVM("t1", "a", "10", nil), cachedVM("t1", "b", "12", nil)
	client, _ := listedAs(t, "20", a, b)
	v := &virtualMachines{Clients: backend.Clients{Metadata: client}, cachedVMs: newVMCache(b, a, cachedVM("t2", "c", "11", nil))}
	vms, resourceVersion, ok, err := v.ListCached(context.Background(), "t1", metav1.ListOptions{})
	if err != nil || !ok {
		t.Fatalf("ListCached: ok %v, %v", ok, err)
	}
	if got := names(vms); !slices.Equal(got, []string{"t1/a", "t1/b"}) {
		t.Errorf("VMs %v, want t1/a, t1/b in list order", got)
	}
	if resourceVersion != "20" {
		t.Errorf("resourceVersion %q, want the list's 20", resourceVersion)
	}
}

func TestListCachedWaitsForACacheBehindTheList(t *testing.T) {
	old := cachedVM("t1", "a", "10", nil)
	changed := cachedVM("t1", "a", "15", map[string]string{"new": "yes"})
	client, _ := listedAs(t, "20", changed)
	cache := newVMCache(old)
	// The change reaches the cache only after the list has read the old
	// copy: it must wait for it.
	cache.afterFirstRead = func() { go cache.apply(changed) }
	v := &virtualMachines{Clients: backend.Clients{Metadata: client}, cachedVMs: cache}
	vms, _, ok, err := v.ListCached(context.Background(), "", metav1.ListOptions{})
	if err != nil || !ok {
		t.Fatalf("ListCached: ok %v, %v", ok, err)
	}
	if len(vms) != 1 || vms[0] != changed {
		t.Errorf("VMs %v, want the changed copy", vms)
	}
}

func TestListCachedServesACacheThatAppliedAChangeAsNewAsTheList(t *testing.T) {
	a := cachedVM("t1", "a", "10", nil)
	client, _ := listedAs(t, "20", a)
	cache := newVMCache(a)
	// Changed after kube-apiserver answered: the cache is past the list.
	newer, created := cachedVM("t1", "a", "21", nil), cachedVM("t1", "b", "22", nil)
	cache.apply(newer)
	cache.apply(created)
	v := &virtualMachines{Clients: backend.Clients{Metadata: client}, cachedVMs: cache}
	vms, resourceVersion, ok, err := v.ListCached(context.Background(), "", metav1.ListOptions{})
	if err != nil || !ok {
		t.Fatalf("ListCached: ok %v, %v", ok, err)
	}
	if got := names(vms); !slices.Equal(got, []string{"t1/a", "t1/b"}) || vms[0] != newer {
		t.Errorf("VMs %v, want the cache's newer t1/a and t1/b", got)
	}
	if resourceVersion != "22" {
		t.Errorf("resourceVersion %q, want 22, the newest change the cache applied", resourceVersion)
	}
}

func TestListCachedLeavesToTheLiveListACacheThatNeverCatchesUp(t *testing.T) {
	client, _ := listedAs(t, "20", cachedVM("t1", "a", "15", nil))
	v := &virtualMachines{Clients: backend.Clients{Metadata: client}, cachedVMs: newVMCache(cachedVM("t1", "a", "10", nil))}
	start := time.Now()
	_, _, ok, err := v.ListCached(context.Background(), "", metav1.ListOptions{})
	if err != nil || ok {
		t.Fatalf("ListCached: ok %v, %v; want a live list", ok, err)
	}
	if waited := time.Since(start); waited < cacheCatchUp {
		t.Errorf("gave up after %s, before cacheCatchUp", waited)
	}
}

func TestListCachedDoesNotServeACopyTheListDoesNotHave(t *testing.T) {
	listed := cachedVM("t1", "a", "10", nil)
	for name, cached := range map[string][]*kubevirtv1.VirtualMachine{
		// Deleted before the list; the cache has not seen it go.
		"deleted": {listed, cachedVM("t1", "gone", "9", nil)},
		// Another object of the same name.
		"replaced": {{ObjectMeta: metav1.ObjectMeta{Namespace: "t1", Name: "a", UID: "other", ResourceVersion: "10"}}},
	} {
		t.Run(name, func(t *testing.T) {
			client, _ := listedAs(t, "20", listed)
			v := &virtualMachines{Clients: backend.Clients{Metadata: client}, cachedVMs: newVMCache(cached...)}
			// Done: no waiting for a cache that will not change.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, _, ok, _ := v.ListCached(ctx, "", metav1.ListOptions{}); ok {
				t.Error("served a cache that differs from the list")
			}
		})
	}
}

func TestListCachedSelectsAsTheListDoes(t *testing.T) {
	a := cachedVM("t1", "a", "10", map[string]string{"tier": "web"})
	b := cachedVM("t1", "b", "11", map[string]string{"tier": "db"})
	c := cachedVM("t1", "c", "12", map[string]string{"tier": "web"})
	client, _ := listedAs(t, "20", c)
	v := &virtualMachines{Clients: backend.Clients{Metadata: client}, cachedVMs: newVMCache(a, b, c)}
	vms, _, ok, err := v.ListCached(context.Background(), "t1", metav1.ListOptions{LabelSelector: "tier=web", FieldSelector: "metadata.name=c"})
	if err != nil || !ok {
		t.Fatalf("ListCached: ok %v, %v", ok, err)
	}
	if got := names(vms); !slices.Equal(got, []string{"t1/c"}) {
		t.Errorf("VMs %v, want t1/c alone", got)
	}
}

func TestListCachedWithoutACacheListsLive(t *testing.T) {
	client, lists := listedAs(t, "20")
	v := &virtualMachines{Clients: backend.Clients{Metadata: client}}
	if _, _, ok, err := v.ListCached(context.Background(), "", metav1.ListOptions{}); ok || err != nil {
		t.Fatalf("ListCached: ok %v, %v; want a live list", ok, err)
	}
	if *lists != 0 {
		t.Errorf("asked kube-apiserver %d times for nothing", *lists)
	}
}

func TestSelectedInOrderSortsAsKubeAPIServerKeys(t *testing.T) {
	// "a-b/x" sorts before "a/y" as keys do, though namespace "a" sorts
	// before "a-b".
	vms, newest := selectedInOrder([]*kubevirtv1.VirtualMachine{
		cachedVM("a", "y", "5", nil), cachedVM("a-b", "x", "7", nil), cachedVM("a", "b", "6", nil),
	}, func(*kubevirtv1.VirtualMachine) bool { return true })
	if got := names(vms); !slices.Equal(got, []string{"a-b/x", "a/b", "a/y"}) {
		t.Errorf("order %v", got)
	}
	if newest != 7 {
		t.Errorf("newest %d, want 7", newest)
	}
}

// pagedAs answers the metadata list in pages of one VM each, all at
// resourceVersion, counting the pages read; it is read once.
func pagedAs(t *testing.T, resourceVersion string, vms ...*kubevirtv1.VirtualMachine) (*metadatafake.FakeMetadataClient, *int) {
	t.Helper()
	client, _ := listedAs(t, resourceVersion)
	pages := 0
	// The fake client keeps no continue token: the pages come in turn.
	client.PrependReactor("list", "virtualmachines", func(clienttesting.Action) (bool, runtime.Object, error) {
		at := pages
		pages++
		out := &metav1.List{ListMeta: metav1.ListMeta{ResourceVersion: resourceVersion}}
		out.Items = []runtime.RawExtension{{Object: &metav1.PartialObjectMetadata{ObjectMeta: vms[at].ObjectMeta}}}
		if at+1 < len(vms) {
			out.Continue = strconv.Itoa(at + 1)
		}
		return true, out, nil
	})
	return client, &pages
}

func TestListCachedReadsEveryPageOfAQuietCluster(t *testing.T) {
	a, b := cachedVM("t1", "a", "10", nil), cachedVM("t1", "b", "12", nil)
	client, pages := pagedAs(t, "20", a, b)
	v := &virtualMachines{Clients: backend.Clients{Metadata: client}, cachedVMs: newVMCache(a, b)}
	vms, resourceVersion, ok, err := v.ListCached(context.Background(), "", metav1.ListOptions{})
	if err != nil || !ok {
		t.Fatalf("ListCached: ok %v, %v", ok, err)
	}
	if got := names(vms); !slices.Equal(got, []string{"t1/a", "t1/b"}) || resourceVersion != "20" {
		t.Errorf("VMs %v at %s, want t1/a, t1/b at 20", got, resourceVersion)
	}
	if *pages != 2 {
		t.Errorf("read %d pages, want both", *pages)
	}
}

func TestListCachedStopsReadingOnceTheCacheIsPastTheSnapshot(t *testing.T) {
	a, b := cachedVM("t1", "a", "10", nil), cachedVM("t1", "b", "12", nil)
	client, pages := pagedAs(t, "20", a, b)
	cache := newVMCache(a)
	cache.apply(cachedVM("t1", "b", "21", nil))
	v := &virtualMachines{Clients: backend.Clients{Metadata: client}, cachedVMs: cache}
	vms, resourceVersion, ok, err := v.ListCached(context.Background(), "", metav1.ListOptions{})
	if err != nil || !ok {
		t.Fatalf("ListCached: ok %v, %v", ok, err)
	}
	if got := names(vms); !slices.Equal(got, []string{"t1/a", "t1/b"}) || resourceVersion != "21" {
		t.Errorf("VMs %v at %s, want t1/a, t1/b at 21", got, resourceVersion)
	}
	if *pages != 1 {
		t.Errorf("read %d pages, want the first alone", *pages)
	}
}
