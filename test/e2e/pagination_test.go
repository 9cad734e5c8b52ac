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
	"slices"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/storage/etcd3"
	"k8s.io/client-go/tools/pager"
	"k8s.io/client-go/util/retry"

	appsv1alpha1 "github.com/cozystack/vm-apiserver/pkg/apis/apps/v1alpha1"
)

// TestListPagesAreOneSnapshot pages through VMDisks one at a time while
// disks are created, deleted and changed between the pages: every page
// reports the resourceVersion of the first, and together they show the
// disks exactly as they were then, as kube-apiserver does for its own kinds.
func TestListPagesAreOneSnapshot(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	disks := c.apps.AppsV1alpha1().VMDisks(ns)
	for i := range 5 {
		if _, err := disks.Create(ctx, newDisk(fmt.Sprintf("d%d", i), appsv1alpha1.VMDiskSpec{Storage: quantity("1Gi")}), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	first, err := disks.List(ctx, metav1.ListOptions{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Items) != 2 || first.Continue == "" {
		t.Fatalf("first page: %d items, continue %q", len(first.Items), first.Continue)
	}
	// Writes between the pages, each one of them changing a later page if
	// the pages were not a snapshot.
	if _, err := disks.Create(ctx, newDisk("d5", appsv1alpha1.VMDiskSpec{Storage: quantity("1Gi")}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := disks.Delete(ctx, "d4", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// A disk grows once its claim is bound (TestVMDiskGrowsByExpandingItsClaim).
	bindDiskClaim(t, c, ns, "d3")
	// cdi-controller writes d3's status meanwhile: re-read on a conflict,
	// as a client does.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		grown, err := disks.Get(ctx, "d3", metav1.GetOptions{})
		if err != nil {
			return err
		}
		grown.Spec.Storage = quantity("2Gi")
		_, err = disks.Update(ctx, grown, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}

	sizes := map[string]string{}
	for _, d := range first.Items {
		sizes[d.Name] = d.Spec.Storage.String()
	}
	for opts := (metav1.ListOptions{Limit: 2, Continue: first.Continue}); opts.Continue != ""; {
		page, err := disks.List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if page.ResourceVersion != first.ResourceVersion {
			t.Errorf("a later page has resourceVersion %s, the first %s", page.ResourceVersion, first.ResourceVersion)
		}
		for _, d := range page.Items {
			if _, seen := sizes[d.Name]; seen {
				t.Errorf("%s is on two pages", d.Name)
			}
			sizes[d.Name] = d.Spec.Storage.String()
		}
		opts.Continue = page.Continue
	}
	want := map[string]string{"d0": "1Gi", "d1": "1Gi", "d2": "1Gi", "d3": "1Gi", "d4": "1Gi"}
	if fmt.Sprint(sizes) != fmt.Sprint(want) {
		t.Fatalf("the pages show %v, the disks as they were at the first page are %v", sizes, want)
	}

	// A new list sees the writes.
	now, err := disks.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sizes = map[string]string{}
	for _, d := range now.Items {
		sizes[d.Name] = d.Spec.Storage.String()
	}
	if want := map[string]string{"d0": "1Gi", "d1": "1Gi", "d2": "1Gi", "d3": "2Gi", "d5": "1Gi"}; fmt.Sprint(sizes) != fmt.Sprint(want) {
		t.Fatalf("a new list shows %v, want %v", sizes, want)
	}
}

// TestContinueAfterCompaction pages through VMInstances across an etcd
// compaction: continuing gives kube-apiserver's 410 with a token that
// resumes the list inconsistently, and client-go's pager, as informers use
// it, recovers with a full list.
func TestContinueAfterCompaction(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	instances := c.apps.AppsV1alpha1().VMInstances(ns)
	create := func(name string) {
		t.Helper()
		if _, err := instances.Create(ctx, newInstance(name, appsv1alpha1.VMInstanceSpec{}), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"a", "b", "c"} {
		create(name)
	}
	first, err := instances.List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Items) != 1 || first.Continue == "" {
		t.Fatalf("first page: %d items, continue %q", len(first.Items), first.Continue)
	}

	var pageRequests []metav1.ListOptions
	compacted := false
	listPage := func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
		pageRequests = append(pageRequests, opts)
		if opts.Continue != "" && !compacted {
			// Between the pager's first and second page: a write the
			// first page's snapshot cannot show, then compaction.
			compacted = true
			create("d")
			compactEtcd(t)
			assertContinueExpires(t, ns, first.Continue)
		}
		return instances.List(ctx, opts)
	}
	p := pager.New(listPage)
	p.PageSize = 1
	listed, _, err := p.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("client-go's pager did not recover from the expired continue token: %v", err)
	}
	var names []string
	for _, inst := range listed.(*appsv1alpha1.VMInstanceList).Items {
		names = append(names, inst.Name)
	}
	if !slices.Equal(names, []string{"a", "b", "c", "d"}) {
		t.Fatalf("the pager's list has %v, want the current a, b, c, d", names)
	}
	if last := pageRequests[len(pageRequests)-1]; len(pageRequests) != 3 || last.Limit != 0 || last.Continue != "" {
		t.Fatalf("the pager should have fallen back to one full list after the 410, made %+v", pageRequests)
	}
}

// assertContinueExpires waits until kube-apiserver's watch cache has learnt
// of the compaction (it polls for it) and continuing from token gives 410
// Gone, then checks that the token in that answer resumes the list after
// the last item returned, including what was created since.
func assertContinueExpires(t *testing.T, ns, token string) {
	t.Helper()
	ctx := context.Background()
	instances := newClients(t).apps.AppsV1alpha1().VMInstances(ns)
	var expired *apierrors.StatusError
	eventually(t, "continuing a compacted list to give 410 Gone", func() (bool, string) {
		_, err := instances.List(ctx, metav1.ListOptions{Limit: 1, Continue: token})
		if err == nil {
			return false, "the continue token still works, served from the watch cache's snapshot"
		}
		if !apierrors.IsResourceExpired(err) {
			t.Fatalf("want 410 Gone, got %v", err)
		}
		expired = err.(*apierrors.StatusError)
		return true, ""
	})
	resume := expired.ErrStatus.ListMeta.Continue
	if resume == "" {
		t.Fatalf("the 410 carries no token to resume with: %+v", expired.ErrStatus)
	}
	var names []string
	for opts := (metav1.ListOptions{Limit: 1, Continue: resume}); opts.Continue != ""; {
		page, err := instances.List(ctx, opts)
		if err != nil {
			t.Fatalf("resuming with the token of the 410: %v", err)
		}
		for _, inst := range page.Items {
			names = append(names, inst.Name)
		}
		opts.Continue = page.Continue
	}
	if !slices.Equal(names, []string{"b", "c", "d"}) {
		t.Fatalf("resuming after a has %v, want b, c, d", names)
	}
}

// compactRevisionKey is where kube-apiserver records the last compaction;
// it watches the key to learn that older revisions are gone.
const compactRevisionKey = "compact_rev_key"

// compactEtcd compacts etcd's history up to now the way kube-apiserver's
// periodic compaction does, so that kube-apiserver learns of it.
func compactEtcd(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventuallyTimeout)
	defer cancel()
	etcd, err := clientv3.New(clientv3.Config{Endpoints: []string{env.EtcdURL}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Close()
	current, err := etcd.Get(ctx, compactRevisionKey)
	if err != nil {
		t.Fatal(err)
	}
	var version int64
	if len(current.Kvs) > 0 {
		version = current.Kvs[0].Version
	}
	revision := current.Header.Revision
	if _, _, compacted, err := etcd3.Compact(ctx, etcd, version, revision); err != nil || compacted != revision {
		t.Fatalf("compacting etcd to revision %d: compacted to %d, %v", revision, compacted, err)
	}
}
