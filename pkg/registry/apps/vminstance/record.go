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
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	kubevirtv1 "kubevirt.io/api/core/v1"
	kubevirttyped "kubevirt.io/client-go/kubevirt/typed/core/v1"

	"github.com/cozystack/vm-apiserver/pkg/backend"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
	"github.com/cozystack/vm-apiserver/pkg/projection"
)

// JoinRecorder records on each VM every change of its Service, Secrets and
// VMI that changes what the VMInstance shows (a load balancer's address, a
// VMI's IP), by raising that object's version in the VM's record
// (OwnedVersionsAnnotation). The VM's resourceVersion then moves with the
// change, so that one watch of VMs carries every change of every
// VMInstance in resourceVersion order, and a watch resumed from any
// resourceVersion misses none; a read of the VM waits for the cache to show
// what the record names.
//
// Every replica runs one. The write is conditional on the VM's
// resourceVersion and only ever raises a version, so replicas that see the
// same change agree: the first records it, the others find it recorded.
type JoinRecorder struct {
	// cachedVMs answers, without a request, most changes: already recorded,
	// or a write under way.
	cachedVMs CachedVMs
	vms       func(namespace string) kubevirttyped.VirtualMachineInterface
	list      func(ctx context.Context, opts metav1.ListOptions) (*kubevirtv1.VirtualMachineList, error)
	joined    *JoinCache
	queue     workqueue.TypedRateLimitingInterface[joinedObject]

	mu sync.Mutex
	// shown is, for each object with a change not yet recorded, the state
	// the VMInstance showed before it: nil when the object was absent, and
	// no entry at all when that is unknown (then the change is recorded
	// whatever it was).
	shown map[joinedObject]metav1.Object
}

// CachedVMs holds VMInstance VMs in memory with at least the record of
// their joined objects and their write marker (the disk protection
// controller's informer).
type CachedVMs interface {
	VM(namespace, name string) (*kubevirtv1.VirtualMachine, bool)
}

// recordWorkers is how many changes are recorded at once.
const recordWorkers = 4

// NewJoinRecorder builds the recorder over the join cache; it follows the
// cache's informers from now on, and Run records.
func NewJoinRecorder(c backend.Clients, joined *JoinCache, cachedVMs CachedVMs) *JoinRecorder {
	r := &JoinRecorder{
		cachedVMs: cachedVMs,
		vms:       c.KubeVirt.KubevirtV1().VirtualMachines,
		list:      c.KubeVirt.KubevirtV1().VirtualMachines("").List,
		joined:    joined,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[joinedObject](),
			workqueue.TypedRateLimitingQueueConfig[joinedObject]{Name: "vminstance-joins"}),
		shown: map[joinedObject]metav1.Object{},
	}
	follow(r, joined.services, serviceKind)
	follow(r, joined.secrets, secretKind)
	follow(r, joined.vmis, vmiKind)
	return r
}

// follow queues every change of a cached kind after the informer's first
// list; what that list holds is checked against the VMs' records by Run.
func follow[T metav1.Object](r *JoinRecorder, k *cachedKind[T], kind string) {
	changed := func(obj any, before metav1.Object, known bool) {
		m, ok := obj.(metav1.Object)
		if !ok || m.GetLabels()[backendnames.InstanceLabel] == "" {
			return
		}
		r.changed(joinedObject{namespace: m.GetNamespace(), instance: m.GetLabels()[backendnames.InstanceLabel], kind: kind, name: m.GetName()}, before, known)
	}
	_, _ = k.informer.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, initial bool) {
			if !initial {
				changed(obj, nil, true)
			}
		},
		UpdateFunc: func(old, obj any) {
			if m, ok := old.(metav1.Object); ok {
				changed(obj, m, true)
			}
		},
		DeleteFunc: func(obj any) {
			if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				// Deleted while the informer was not watching: what the
				// VMInstance showed before is unknown.
				changed(tombstone.Obj, nil, false)
				return
			}
			if m, ok := obj.(metav1.Object); ok {
				changed(obj, m, true)
			}
		},
	})
}

// changed queues a change of o; before is what the VMInstance showed of o
// (known says whether that is known). Of several changes before a record,
// the first one's before counts.
func (r *JoinRecorder) changed(o joinedObject, before metav1.Object, known bool) {
	r.mu.Lock()
	if _, queued := r.shown[o]; !queued && known {
		r.shown[o] = before
	}
	r.mu.Unlock()
	r.queue.Add(o)
}

// Run records changes until ctx ends. Once the cache has listed, it also
// records what changed while no replica was running.
func (r *JoinRecorder) Run(ctx context.Context) {
	defer r.queue.ShutDown()
	for range recordWorkers {
		go func() {
			for r.next(ctx) {
			}
		}()
	}
	go r.catchUp(ctx)
	<-ctx.Done()
}

func (r *JoinRecorder) next(ctx context.Context) bool {
	o, shutdown := r.queue.Get()
	if shutdown {
		return false
	}
	defer r.queue.Done(o)
	retryAfter, err := r.record(ctx, o)
	switch {
	case err != nil:
		klog.V(2).InfoS("Recording a change of a VMInstance's joined object failed; retrying", "object", o, "err", err)
		r.queue.AddRateLimited(o)
	case retryAfter > 0:
		r.queue.AddAfter(o, retryAfter)
	default:
		r.queue.Forget(o)
	}
	return true
}

// record records the change of o on its VM if the VM's record does not
// cover it yet and the VMInstance shows it; retryAfter asks to come back
// later (a write of the VMInstance is under way).
func (r *JoinRecorder) record(ctx context.Context, o joinedObject) (retryAfter time.Duration, err error) {
	before, known := r.take(o)
	defer func() {
		if err != nil || retryAfter > 0 {
			r.putBack(o, before, known)
		}
	}()
	if cached, ok := r.cachedVMs.VM(o.namespace, o.instance); ok {
		// The record only rises, so a copy that covers the change is
		// enough; one that is behind is read again below.
		if retryAfter, done := r.settled(cached, o); done {
			return retryAfter, nil
		}
	}
	vms := r.vms(o.namespace)
	vm, err := vms.Get(ctx, o.instance, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if !backendnames.HasKind(vm.Labels, backendnames.VMInstanceKind) {
		return 0, nil
	}
	if retryAfter, done := r.settled(vm, o); done {
		return retryAfter, nil
	}
	versions := projection.OwnedVersionsOf(&vm.ObjectMeta)
	// What is recorded is the state compared: a change after this read is
	// its own event.
	current := r.cached(o)
	if known {
		shows, err := r.showsChange(ctx, vm, o, before, current)
		if err != nil || !shows {
			return 0, err
		}
	}
	versions[o.recordKey()] = versionOf(current)
	next := vm.DeepCopy()
	versions.Record(&next.ObjectMeta)
	_, err = vms.Update(ctx, next, metav1.UpdateOptions{})
	return 0, err
}

// settled tells whether vm leaves nothing to record of o now: a write of
// the VMInstance is under way (then retryAfter asks to come back: the
// write's last step records what it wrote, and what else changed meanwhile
// is recorded after it), or the VM's record covers o as the cache has it.
func (r *JoinRecorder) settled(vm *kubevirtv1.VirtualMachine, o joinedObject) (retryAfter time.Duration, done bool) {
	if checkNoWriteInProgress(vm, time.Now()) != nil {
		return time.Second, true
	}
	return 0, projection.OwnedVersionsOf(&vm.ObjectMeta).Covers(o.recordKey(), r.cached(o))
}

// showsChange tells whether the VMInstance of vm shows o differently as
// current than it did with o as before.
func (r *JoinRecorder) showsChange(ctx context.Context, vm *kubevirtv1.VirtualMachine, o joinedObject, before, current metav1.Object) (bool, error) {
	j, err := r.joined.joinsOf(ctx, vm.Namespace, []*kubevirtv1.VirtualMachine{vm})
	if err != nil {
		return false, err
	}
	j.set(o.kind, key(o.namespace, o.name), current)
	now, err := j.project(vm)
	if err != nil {
		return false, err
	}
	j.set(o.kind, key(o.namespace, o.name), before)
	then, err := j.project(vm)
	if err != nil {
		return false, err
	}
	return !apiequality.Semantic.DeepEqual(now, then), nil
}

// cached is o as the cache holds it, nil when absent.
func (r *JoinRecorder) cached(o joinedObject) metav1.Object {
	switch o.kind {
	case serviceKind:
		return objectOrNil(r.joined.services.cached(o.namespace, o.name))
	case secretKind:
		return objectOrNil(r.joined.secrets.cached(o.namespace, o.name))
	default:
		return objectOrNil(r.joined.vmis.cached(o.namespace, o.name))
	}
}

func (r *JoinRecorder) take(o joinedObject) (metav1.Object, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	before, known := r.shown[o]
	delete(r.shown, o)
	return before, known
}

// putBack restores what take took, unless a newer change has set it.
func (r *JoinRecorder) putBack(o joinedObject, before metav1.Object, known bool) {
	if !known {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.shown[o]; !ok {
		r.shown[o] = before
	}
}

// versionOf is the version recorded for obj: "" for absent.
func versionOf(obj metav1.Object) string {
	if obj == nil {
		return ""
	}
	return obj.GetResourceVersion()
}

// catchUp queues, once the cache has listed, every joined object whose
// VM's record does not cover it: its changes happened while no replica
// followed them.
func (r *JoinRecorder) catchUp(ctx context.Context) {
	if !cache.WaitForCacheSync(ctx.Done(), r.joined.services.informer.HasSynced, r.joined.secrets.informer.HasSynced, r.joined.vmis.informer.HasSynced) {
		return
	}
	_ = wait.PollUntilContextCancel(ctx, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		opts := metav1.ListOptions{LabelSelector: backendnames.KindSelector(backendnames.VMInstanceKind), Limit: 500}
		for {
			list, err := r.list(ctx, opts)
			if err != nil {
				klog.V(2).InfoS("Listing VMs to record what changed before the start failed; retrying", "err", err)
				return false, nil
			}
			for i := range list.Items {
				r.queueUncovered(&list.Items[i])
			}
			if opts.Continue = list.Continue; opts.Continue == "" {
				return true, nil
			}
		}
	})
}

func (r *JoinRecorder) queueUncovered(vm *kubevirtv1.VirtualMachine) {
	versions := projection.OwnedVersionsOf(&vm.ObjectMeta)
	for _, o := range joinedObjectsOf(vm) {
		current := r.cached(o)
		if current != nil && current.GetLabels()[backendnames.InstanceLabel] != vm.Name {
			continue // not this VMInstance's
		}
		if versions.Covers(o.recordKey(), current) {
			continue
		}
		// Never recorded: the VMInstance showed it absent. Recorded older:
		// what it showed is unknown.
		_, recorded := versions[o.recordKey()]
		r.changed(o, nil, !recorded)
	}
}
