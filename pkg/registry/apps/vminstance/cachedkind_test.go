package vminstance

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	kubevirtfake "kubevirt.io/client-go/kubevirt/fake"

	"github.com/cozystack/vm-apiserver/pkg/backend"
	"github.com/cozystack/vm-apiserver/pkg/projection"
)

func labelledService(name, rv string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{
		Namespace: "tenant", Name: name, ResourceVersion: rv,
		Labels: map[string]string{projection.InstanceLabel: name},
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
	// Before the write reaches the cache, its copy is too old.
	if ok, err := k.awaitFresh(context.Background(), "tenant", "a", projection.FreshnessOf("7")); err != nil || ok {
		t.Fatalf("a copy at version 5 must not pass for version 7: %v %v", ok, err)
	}
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
}

func TestJoinCacheShowsADeletionOnlyOnceItHasIt(t *testing.T) {
	k, kube := newServiceCache(t, labelledService("a", "5"))
	runSynced(t, k)
	ok, err := k.awaitFresh(context.Background(), "tenant", "a", projection.FreshnessOf(""))
	if err != nil || ok {
		t.Fatalf("a cache still holding the Service must not count as deleted: %v %v", ok, err)
	}
	if err := kube.CoreV1().Services("tenant").Delete(context.Background(), "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	k.wait = 10 * time.Second
	ok, err = k.awaitFresh(context.Background(), "tenant", "a", projection.FreshnessOf(""))
	if err != nil || !ok {
		t.Fatalf("want the deletion seen: %v %v", ok, err)
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
