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
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	kubevirtfake "kubevirt.io/client-go/kubevirt/fake"

	"github.com/cozystack/vm-apiserver/pkg/backend"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
	"github.com/cozystack/vm-apiserver/pkg/projection"
)

func labelledService(name, rv string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{
		Namespace: "tenant", Name: name, ResourceVersion: rv,
		Labels: map[string]string{backendnames.InstanceLabel: name},
	}}
}

// newServiceCache is the join cache's Services over a fake clientset
// holding objs, and the clientset.
func newServiceCache(t *testing.T, objs ...runtime.Object) (*cachedKind[*corev1.Service], *kubefake.Clientset) {
	t.Helper()
	kube := kubefake.NewClientset(objs...)
	joined := NewJoinCache(backend.Clients{Kube: kube, KubeVirt: kubevirtfake.NewSimpleClientset()})
	joined.services.wait = 200 * time.Millisecond
	return joined.services, kube
}

func runSynced(t *testing.T, k *cachedKind[*corev1.Service]) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go k.run(ctx)
	if !cache.WaitForCacheSync(ctx.Done(), k.informer.HasSynced) {
		t.Fatal("the informer did not sync")
	}
}

// waitFor is a stop channel closed when the test ends or after 10 s.
func waitFor(t *testing.T) <-chan struct{} {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx.Done()
}

func countActions(kube *kubefake.Clientset, verb string) int {
	n := 0
	for _, a := range kube.Actions() {
		if a.GetVerb() == verb && a.GetResource().Resource == "services" {
			n++
		}
	}
	return n
}

func TestJoinCacheReadsLiveUntilItHasSynced(t *testing.T) {
	k, kube := newServiceCache(t, labelledService("a", "5"), labelledService("b", "6"))
	out := map[string]*corev1.Service{}
	err := k.read(context.Background(), "tenant", []wanted{{namespace: "tenant", name: "a"}, {namespace: "tenant", name: "b"}}, out)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || countActions(kube, "list") != 1 {
		t.Fatalf("want both Services from one live list, got %d objects and %v", len(out), kube.Actions())
	}
	single := map[string]*corev1.Service{}
	if err := k.read(context.Background(), "tenant", []wanted{{namespace: "tenant", name: "a"}}, single); err != nil {
		t.Fatal(err)
	}
	if single["tenant/a"] == nil || countActions(kube, "get") != 1 {
		t.Fatalf("want one Service from one live get, got %v and %v", single, kube.Actions())
	}
}

func TestJoinCacheWaitsForTheVersionAWriteLeft(t *testing.T) {
	k, kube := newServiceCache(t, labelledService("a", "5"))
	runSynced(t, k)
	k.wait = 10 * time.Second
	go func() {
		// The write the VM's record names, reaching the cache later.
		_, _ = kube.CoreV1().Services("tenant").Update(context.Background(), labelledService("a", "7"), metav1.UpdateOptions{})
	}()
	out := map[string]*corev1.Service{}
	want := wanted{namespace: "tenant", name: "a", fresh: projection.FreshnessOf("7")}
	if err := k.read(context.Background(), "tenant", []wanted{want}, out); err != nil {
		t.Fatal(err)
	}
	if got := out["tenant/a"]; got == nil || got.ResourceVersion != "7" {
		t.Fatalf("want the Service at version 7, got %+v", got)
	}
	if n := countActions(kube, "get"); n != 0 {
		t.Fatalf("want no live read, got %d", n)
	}
}

func TestJoinCacheReadsLiveWhatStaysBehind(t *testing.T) {
	k, kube := newServiceCache(t, labelledService("a", "5"))
	runSynced(t, k)
	kube.PrependReactor("get", "services", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, labelledService("a", "9"), nil
	})
	out := map[string]*corev1.Service{}
	want := wanted{namespace: "tenant", name: "a", fresh: projection.FreshnessOf("9")}
	if err := k.read(context.Background(), "tenant", []wanted{want}, out); err != nil {
		t.Fatal(err)
	}
	if got := out["tenant/a"]; got == nil || got.ResourceVersion != "9" {
		t.Fatalf("want the live Service at version 9, got %+v", got)
	}
	if !k.behind() {
		t.Fatal("a cache that missed version 9 must count as behind until it has it")
	}
}

// A version a read needed and the cache did not show in time: every read of
// the kind, even one that asks for no version, goes live until the cache
// has seen it, so that a list then cannot show an older state than its
// resourceVersion.
func TestJoinCacheReadsLiveUntilItHasANeededVersion(t *testing.T) {
	k, kube := newServiceCache(t, labelledService("a", "5"))
	runSynced(t, k)
	kube.PrependReactor("get", "services", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, labelledService("a", "7"), nil
	})
	out := map[string]*corev1.Service{}
	if err := k.read(context.Background(), "tenant", []wanted{{namespace: "tenant", name: "a", fresh: projection.FreshnessOf("7")}}, out); err != nil {
		t.Fatal(err)
	}
	if err := k.read(context.Background(), "tenant", []wanted{{namespace: "tenant", name: "a"}}, out); err != nil {
		t.Fatal(err)
	}
	if got := out["tenant/a"]; got == nil || got.ResourceVersion != "7" || countActions(kube, "get") != 2 {
		t.Fatalf("want the needed version read live, also by a read that asks for none, got %+v and %v", got, kube.Actions())
	}
	if _, err := kube.CoreV1().Services("tenant").Update(context.Background(), labelledService("a", "7"), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if !cache.WaitForCacheSync(waitFor(t), func() bool { return !k.behind() }) {
		t.Fatal("the cache never caught up with the needed version")
	}
	if err := k.read(context.Background(), "tenant", []wanted{{namespace: "tenant", name: "a"}}, out); err != nil {
		t.Fatal(err)
	}
	if countActions(kube, "get") != 2 {
		t.Fatalf("once the cache has the version, want it read from the cache, got %v", kube.Actions())
	}
}

func TestJoinCacheShowsADeletionOnlyOnceItHasIt(t *testing.T) {
	k, kube := newServiceCache(t, labelledService("a", "5"))
	runSynced(t, k)
	k.wait = 10 * time.Second
	go func() {
		_ = kube.CoreV1().Services("tenant").Delete(context.Background(), "a", metav1.DeleteOptions{})
	}()
	out := map[string]*corev1.Service{}
	if err := k.read(context.Background(), "tenant", []wanted{{namespace: "tenant", name: "a", fresh: projection.FreshnessOf("")}}, out); err != nil {
		t.Fatal(err)
	}
	if _, ok := k.cached("tenant", "a"); ok || out["tenant/a"] != nil || k.behind() || countActions(kube, "get") != 0 {
		t.Fatalf("want the deletion read from the cache, and the cache not behind: read %+v, behind %v, %v", out["tenant/a"], k.behind(), kube.Actions())
	}
}

// kube-apiserver restarting: the informer's watch ends and cannot start
// again for a while; the informer retries it without listing. Meanwhile
// the kind is read live.
func TestJoinCacheReadsLiveWhileItsInformerHasNoWatch(t *testing.T) {
	// How a new watch fails to start: refused at once, or hanging (no
	// answer yet), where only the end of the old watch tells.
	for name, restart := range map[string]func(release <-chan struct{}) error{
		"refused": func(<-chan struct{}) error { return syscall.ECONNREFUSED },
		"hanging": func(release <-chan struct{}) error { <-release; return syscall.ECONNREFUSED },
	} {
		t.Run(name, func(t *testing.T) {
			k, kube := newServiceCache(t, labelledService("a", "5"))
			var mu sync.Mutex
			failing := false
			release := make(chan struct{})
			var open *watch.FakeWatcher
			kube.PrependWatchReactor("services", func(clienttesting.Action) (bool, watch.Interface, error) {
				mu.Lock()
				if failing {
					mu.Unlock()
					return true, nil, restart(release)
				}
				defer mu.Unlock()
				open = watch.NewFake()
				return true, open, nil
			})
			runSynced(t, k)
			if k.behind() {
				t.Fatal("a synced cache with its watch open is not behind")
			}
			mu.Lock()
			failing = true
			open.Stop()
			mu.Unlock()
			if !cache.WaitForCacheSync(waitFor(t), k.behind) {
				t.Fatal("a cache whose watch ended must count as behind")
			}
			out := map[string]*corev1.Service{}
			if err := k.read(context.Background(), "tenant", []wanted{{namespace: "tenant", name: "a"}}, out); err != nil {
				t.Fatal(err)
			}
			if out["tenant/a"] == nil || countActions(kube, "get") != 1 {
				t.Fatalf("want the Service read live, got %v and %v", out, kube.Actions())
			}
			mu.Lock()
			failing = false
			mu.Unlock()
			close(release)
			if !cache.WaitForCacheSync(waitFor(t), func() bool { return !k.behind() }) {
				t.Fatal("a cache whose watch is open again must not count as behind")
			}
		})
	}
}

func TestLagLastsUntilTheInformerListsAgainOrSeesTheVersion(t *testing.T) {
	var l lag
	if l.behind("10") {
		t.Fatal("a fresh cache is not behind")
	}
	l.failed("10")
	if !l.behind("10") {
		t.Fatal("a failed informer is behind until it lists again")
	}
	if l.behind("12") {
		t.Fatal("an informer that listed again is not behind")
	}
	l.applied("12")
	l.until(11)
	if l.behind("12") {
		t.Fatal("a version the cache has already seen does not make it behind")
	}
	l.until(15)
	if !l.behind("12") {
		t.Fatal("a version the cache has not seen makes it behind")
	}
	l.applied("15")
	if l.behind("12") {
		t.Fatal("once the cache has seen the version, it is not behind")
	}
	l.until(20)
	if !l.behind("12") || !l.behind("21") {
		t.Fatal("without a failure, a newer last sync does not prove the informer applied the version")
	}
	l.failed("21")
	if !l.behind("21") {
		t.Fatal("a failed informer is behind")
	}
	if l.behind("22") {
		t.Fatal("an informer that listed again at 22 has the version 20 it missed")
	}
}

func TestJoinCacheSkipsObjectsWithoutRecordedVersions(t *testing.T) {
	k, kube := newServiceCache(t, labelledService("a", "5"))
	runSynced(t, k)
	out := map[string]*corev1.Service{}
	// Nothing recorded (a VM written before the record existed): the
	// cached copy is read as it is, and a missing one as absent.
	want := []wanted{{namespace: "tenant", name: "a"}, {namespace: "tenant", name: "none"}}
	if err := k.read(context.Background(), "tenant", want, out); err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || out["tenant/a"] == nil || countActions(kube, "get") != 0 {
		t.Fatalf("want the cached Service alone and no live read, got %v, %v", out, kube.Actions())
	}
}
