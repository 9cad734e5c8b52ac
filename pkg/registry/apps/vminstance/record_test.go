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
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
	"github.com/cozystack/vm-apiserver/pkg/projection"
)

// runJoins fills the cluster's join cache and waits until it has listed.
func (c *cluster) runJoins(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c.joined.Run(ctx)
	if !cache.WaitForCacheSync(waitFor(t), c.joined.services.informer.HasSynced, c.joined.secrets.informer.HasSynced, c.joined.vmis.informer.HasSynced) {
		t.Fatal("the join cache did not sync")
	}
}

// cachedAt waits until the join cache holds obj at its resourceVersion.
func cachedAt[T metav1.Object](t *testing.T, k *cachedKind[T], obj metav1.Object) {
	t.Helper()
	if !cache.WaitForCacheSync(waitFor(t), func() bool {
		got, ok := k.cached(obj.GetNamespace(), obj.GetName())
		return ok && got.GetResourceVersion() == obj.GetResourceVersion()
	}) {
		t.Fatalf("the cache never held %s at %s", obj.GetName(), obj.GetResourceVersion())
	}
}

func (c *cluster) setLoadBalancerIP(t *testing.T, name, ip string) *corev1.Service {
	t.Helper()
	svc := mustGet(c.kube.CoreV1().Services(tenant).Get(context.Background(), name, metav1.GetOptions{})).(*corev1.Service)
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip}}
	return mustGet(c.kube.CoreV1().Services(tenant).Update(context.Background(), svc, metav1.UpdateOptions{})).(*corev1.Service)
}

func serviceOf(name string) joinedObject {
	return joinedObject{namespace: tenant, instance: name, kind: serviceKind, name: name}
}

func TestRecorderRecordsAChangeTheVMInstanceShows(t *testing.T) {
	c := newCluster(t)
	c.create(t, instance("web"))
	c.runJoins(t)
	r := NewJoinRecorder(c.clients, c.joined, noCachedVMs{})
	before := c.vm(t, "web")
	svc := c.setLoadBalancerIP(t, "web", "192.0.2.7")
	cachedAt(t, c.joined.services, svc)
	// The state before the change: the Service without the address.
	old := svc.DeepCopy()
	old.Status.LoadBalancer.Ingress = nil
	r.changed(serviceOf("web"), old, true)
	if _, err := r.record(context.Background(), serviceOf("web")); err != nil {
		t.Fatal(err)
	}
	vm := c.vm(t, "web")
	if vm.ResourceVersion == before.ResourceVersion || projection.OwnedVersionsOf(&vm.ObjectMeta)[projection.OwnedKey(serviceKind, "web")] != svc.ResourceVersion {
		t.Fatalf("want the Service's version %s recorded on the VM, got %s", svc.ResourceVersion, vm.Annotations[backendnames.OwnedVersionsAnnotation])
	}
	got := c.get(t, "web")
	if got.Status.ExternalIP != "192.0.2.7" || got.ResourceVersion != vm.ResourceVersion {
		t.Fatalf("want the address at the VM's version %s, got %s at %s", vm.ResourceVersion, got.Status.ExternalIP, got.ResourceVersion)
	}
	// Recorded: another look (a second replica) writes nothing.
	vmWrites := len(c.kubevirt.Actions())
	if _, err := NewJoinRecorder(c.clients, c.joined, noCachedVMs{}).record(context.Background(), serviceOf("web")); err != nil {
		t.Fatal(err)
	}
	for _, a := range c.kubevirt.Actions()[vmWrites:] {
		if a.GetVerb() == "update" {
			t.Fatalf("a recorded change was written again: %v", a)
		}
	}
}

func TestRecorderLeavesAChangeTheVMInstanceDoesNotShow(t *testing.T) {
	c := newCluster(t)
	c.create(t, instance("web"))
	c.runJoins(t)
	r := NewJoinRecorder(c.clients, c.joined, noCachedVMs{})
	svc := mustGet(c.kube.CoreV1().Services(tenant).Get(context.Background(), "web", metav1.GetOptions{})).(*corev1.Service)
	old := svc.DeepCopy()
	svc.Annotations = map[string]string{"load-balancer.example.com/pool": "blue"}
	svc = mustGet(c.kube.CoreV1().Services(tenant).Update(context.Background(), svc, metav1.UpdateOptions{})).(*corev1.Service)
	cachedAt(t, c.joined.services, svc)
	r.changed(serviceOf("web"), old, true)
	before := c.vm(t, "web").ResourceVersion
	if _, err := r.record(context.Background(), serviceOf("web")); err != nil {
		t.Fatal(err)
	}
	if c.vm(t, "web").ResourceVersion != before {
		t.Fatal("a change the VMInstance does not show must not be recorded")
	}
	// What it was before is unknown (a change missed while no replica
	// ran): recorded.
	if _, err := r.record(context.Background(), serviceOf("web")); err != nil {
		t.Fatal(err)
	}
	if c.vm(t, "web").ResourceVersion == before {
		t.Fatal("a change whose earlier state is unknown must be recorded")
	}
}

func TestRecorderWaitsUntilAWriteOfTheVMInstanceIsDone(t *testing.T) {
	c := newCluster(t)
	c.create(t, instance("web"))
	c.runJoins(t)
	r := NewJoinRecorder(c.clients, c.joined, noCachedVMs{})
	vm := c.vm(t, "web")
	vm.Annotations[backendnames.WriteInProgressAnnotation] = backendnames.NewWriteMarker()
	vm = mustGet(c.kubevirt.KubevirtV1().VirtualMachines(tenant).Update(context.Background(), vm, metav1.UpdateOptions{})).(*kubevirtv1.VirtualMachine)
	svc := c.setLoadBalancerIP(t, "web", "192.0.2.7")
	cachedAt(t, c.joined.services, svc)
	r.changed(serviceOf("web"), nil, false)
	retryAfter, err := r.record(context.Background(), serviceOf("web"))
	if err != nil || retryAfter == 0 {
		t.Fatalf("want a retry later while the write is under way, got %v, %v", retryAfter, err)
	}
	if c.vm(t, "web").ResourceVersion != vm.ResourceVersion {
		t.Fatal("the VM must not be written while another write is under way")
	}
}

func TestRecorderRecordsAVMIsDeletionAsAbsent(t *testing.T) {
	vmi := &kubevirtv1.VirtualMachineInstance{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "web", Labels: labelled("web"), ResourceVersion: "50"},
		Status: kubevirtv1.VirtualMachineInstanceStatus{NodeName: "node-1"}}
	c := newCluster(t, vmi)
	c.create(t, instance("web"))
	c.runJoins(t)
	r := NewJoinRecorder(c.clients, c.joined, noCachedVMs{})
	vmiOf := joinedObject{namespace: tenant, instance: "web", kind: vmiKind, name: "web"}
	// Never recorded: the catch-up after a start queues it, as absent
	// before.
	r.queueUncovered(c.vm(t, "web"))
	if _, err := r.record(context.Background(), vmiOf); err != nil {
		t.Fatal(err)
	}
	if v := projection.OwnedVersionsOf(&c.vm(t, "web").ObjectMeta)[projection.OwnedKey(vmiKind, "web")]; v == "" {
		t.Fatal("want the VMI's version recorded")
	}
	if err := c.kubevirt.KubevirtV1().VirtualMachineInstances(tenant).Delete(context.Background(), "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if !cache.WaitForCacheSync(waitFor(t), func() bool { _, ok := c.joined.vmis.cached(tenant, "web"); return !ok }) {
		t.Fatal("the cache never lost the VMI")
	}
	r.changed(vmiOf, vmi, true)
	if _, err := r.record(context.Background(), vmiOf); err != nil {
		t.Fatal(err)
	}
	versions := projection.OwnedVersionsOf(&c.vm(t, "web").ObjectMeta)
	if v, ok := versions[projection.OwnedKey(vmiKind, "web")]; !ok || v != "" {
		t.Fatalf("want the VMI recorded absent, got %v", versions)
	}
	if got := c.get(t, "web"); got.Status.NodeName != "" {
		t.Fatalf("want no node once the VMI is gone, got %q", got.Status.NodeName)
	}
}

// A VMI that appeared while no replica ran is in the cache's first list,
// which raises no change: the recorder's start finds it unrecorded on its
// VM and records it, and nothing the VM already records.
func TestRecorderCatchesUpOnStart(t *testing.T) {
	vmi := &kubevirtv1.VirtualMachineInstance{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "web", Labels: labelled("web"), ResourceVersion: "50"},
		Status: kubevirtv1.VirtualMachineInstanceStatus{NodeName: "node-1"}}
	c := newCluster(t, vmi)
	c.create(t, instance("web"))
	c.runJoins(t)
	recorded := projection.OwnedVersionsOf(&c.vm(t, "web").ObjectMeta)
	r := NewJoinRecorder(c.clients, c.joined, noCachedVMs{})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go r.Run(ctx)
	if !cache.WaitForCacheSync(waitFor(t), func() bool {
		return projection.OwnedVersionsOf(&c.vm(t, "web").ObjectMeta)[projection.OwnedKey(vmiKind, "web")] == "50"
	}) {
		t.Fatal("the VMI was never recorded")
	}
	now := projection.OwnedVersionsOf(&c.vm(t, "web").ObjectMeta)
	delete(now, projection.OwnedKey(vmiKind, "web"))
	if !reflect.DeepEqual(now, recorded) {
		t.Fatalf("the Service's and Secrets' records must stay: %v, then %v", recorded, now)
	}
}

// The whole path: a load balancer's address reaches a VMInstance watch as
// a MODIFIED at the VM's new version, and a delete with the version before
// it is a conflict.
func TestWatchShowsARecordedChangeOfAJoinedServiceAtTheVMsVersion(t *testing.T) {
	c := newCluster(t)
	created := c.create(t, instance("web"))
	c.runJoins(t)
	r := NewJoinRecorder(c.clients, c.joined, noCachedVMs{})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go r.Run(ctx)
	w := c.watchFromNow(t)
	svc := c.setLoadBalancerIP(t, "web", "192.0.2.7")
	inst := nextInstance(t, w, watch.Modified)
	vm := c.vm(t, "web")
	if inst.Status.ExternalIP != "192.0.2.7" || inst.ResourceVersion != vm.ResourceVersion {
		t.Fatalf("want the address at the VM's version %s (the Service's is %s), got %q at %s", vm.ResourceVersion, svc.ResourceVersion, inst.Status.ExternalIP, inst.ResourceVersion)
	}
	stale := created.ResourceVersion
	if _, _, err := c.store.Delete(asAlice(), "web", nil, &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &stale}}); !apierrors.IsConflict(err) {
		t.Fatalf("a delete with the version before the recorded change: want 409, got %v", err)
	}
	if _, _, err := c.store.Delete(asAlice(), "web", nil, &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &inst.ResourceVersion}}); err != nil {
		t.Fatal(err)
	}
	nextInstance(t, w, watch.Deleted)
}

func (c *cluster) get(t *testing.T, name string) *apps.VMInstance {
	t.Helper()
	obj, err := c.store.Get(asAlice(), name, &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*apps.VMInstance)
}

// noCachedVMs has no VM in memory: every change is read live.
type noCachedVMs struct{}

func (noCachedVMs) VM(string, string) (*kubevirtv1.VirtualMachine, bool) { return nil, false }

// cachedVMs holds the cluster's VMs as they are now, read from the fake's
// store without a request.
type cachedVMs struct{ c *cluster }

func (v cachedVMs) VM(namespace, name string) (*kubevirtv1.VirtualMachine, bool) {
	obj, err := v.c.kubevirt.Tracker().Get(VirtualMachines, namespace, name)
	if err != nil {
		return nil, false
	}
	vm, ok := obj.(*kubevirtv1.VirtualMachine)
	return vm, ok
}

// A change the VM in memory already records, or one that comes during a
// write, costs no request.
func TestRecorderAnswersFromTheVMsInMemory(t *testing.T) {
	c := newCluster(t)
	c.create(t, instance("web"))
	c.runJoins(t)
	r := NewJoinRecorder(c.clients, c.joined, cachedVMs{c})
	requests := len(c.kubevirt.Actions())
	// The Service as the create left it: recorded.
	r.changed(serviceOf("web"), nil, true)
	if retryAfter, err := r.record(context.Background(), serviceOf("web")); err != nil || retryAfter != 0 {
		t.Fatalf("got %v, %v", retryAfter, err)
	}
	if made := c.kubevirt.Actions()[requests:]; len(made) > 0 {
		t.Fatalf("a change answered from memory made requests: %v", made)
	}
	vm := c.vm(t, "web")
	vm.Annotations[backendnames.WriteInProgressAnnotation] = backendnames.NewWriteMarker()
	mustGet(c.kubevirt.KubevirtV1().VirtualMachines(tenant).Update(context.Background(), vm, metav1.UpdateOptions{}))
	requests = len(c.kubevirt.Actions())
	svc := c.setLoadBalancerIP(t, "web", "192.0.2.7")
	cachedAt(t, c.joined.services, svc)
	r.changed(serviceOf("web"), nil, false)
	if retryAfter, err := r.record(context.Background(), serviceOf("web")); err != nil || retryAfter == 0 {
		t.Fatalf("want a retry later while the write is under way, got %v, %v", retryAfter, err)
	}
	if made := c.kubevirt.Actions()[requests:]; len(made) > 0 {
		t.Fatalf("a change answered from memory made requests: %v", made)
	}
}
