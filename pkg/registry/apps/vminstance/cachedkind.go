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
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/cozystack/vm-apiserver/pkg/backend"
	"github.com/cozystack/vm-apiserver/pkg/projection"
)

// freshnessWait is how long a read waits for a cached object to reach the
// version it needs before reading it from kube-apiserver instead. The
// informers are normally milliseconds behind.
const freshnessWait = 3 * time.Second

// liveReadsAtOnce bounds the live reads one request makes when the cache
// cannot answer.
const liveReadsAtOnce = 8

// wanted is one joined object a read needs, and how new its copy must be.
type wanted struct {
	namespace, name string
	fresh           projection.Freshness
}

// cachedKind is one joined kind held in memory by a shared informer, with
// how to read it from kube-apiserver while the informer has not synced (or
// its kind is not served) and when its copy of an object is too old.
type cachedKind[T metav1.Object] struct {
	informer cache.SharedIndexInformer
	changed  *backend.Broadcast
	// wait is how long a read waits for the cache (freshnessWait).
	wait time.Duration
	// get reads one object live; found is false for a missing object (or
	// kind).
	get func(ctx context.Context, namespace, name string) (obj T, found bool, err error)
	// list reads every object of the kind that carries the instance label
	// in namespace ("" for all) live.
	list func(ctx context.Context, namespace string) ([]T, error)
	lag  lag
}

// read puts the wanted objects that exist into out, by namespace/name:
// from the cache once it has synced and holds them as new as wanted, else
// from kube-apiserver (one list for many objects before the sync).
func (k *cachedKind[T]) read(ctx context.Context, namespace string, want []wanted, out map[string]T) error {
	if len(want) == 0 {
		return nil
	}
	if !k.informer.HasSynced() || k.behind() {
		if len(want) > 1 {
			items, err := k.list(ctx, namespace)
			if err != nil {
				return err
			}
			for _, obj := range items {
				out[key(obj.GetNamespace(), obj.GetName())] = obj
			}
			return nil
		}
		return k.readLive(ctx, want, out)
	}
	stale, err := k.readCached(ctx, want, out)
	if err != nil {
		return err
	}
	return k.readLive(ctx, stale, out)
}

// readCached reads want from the cache, waiting up to k.wait for
// copies that are too old; it returns those still too old then.
func (k *cachedKind[T]) readCached(ctx context.Context, want []wanted, out map[string]T) ([]wanted, error) {
	timeout := time.NewTimer(k.wait)
	defer timeout.Stop()
	pending := want
	for {
		// Taken before looking, so that a change in between is not missed.
		changed := k.changed.Next()
		var stale []wanted
		for _, w := range pending {
			obj, ok := k.cached(w.namespace, w.name)
			if !w.fresh.SatisfiedBy(objectOrNil(obj, ok)) {
				stale = append(stale, w)
				continue
			}
			if ok {
				out[key(w.namespace, w.name)] = obj
			}
		}
		if len(stale) == 0 {
			return nil, nil
		}
		pending = stale
		select {
		case <-changed:
		case <-timeout.C:
			klog.V(2).InfoS("Cached objects behind the versions a read needs; reading the kind from kube-apiserver until the cache has them", "count", len(stale))
			for _, w := range stale {
				k.lag.until(w.fresh.Version)
			}
			return stale, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// behind tells whether the cache is known to lack changes kube-apiserver
// has, so that reads of the kind go to kube-apiserver.
func (k *cachedKind[T]) behind() bool {
	return k.lag.behind(k.informer.LastSyncResourceVersion())
}

func (k *cachedKind[T]) cached(namespace, name string) (T, bool) {
	var zero T
	storeKey := name
	if namespace != "" {
		storeKey = namespace + "/" + name
	}
	item, ok, err := k.informer.GetIndexer().GetByKey(storeKey)
	if err != nil || !ok {
		return zero, false
	}
	obj, ok := item.(T)
	return obj, ok
}

func (k *cachedKind[T]) readLive(ctx context.Context, want []wanted, out map[string]T) error {
	var mu sync.Mutex
	reads, ctx := errgroup.WithContext(ctx)
	reads.SetLimit(liveReadsAtOnce)
	for _, w := range want {
		reads.Go(func() error {
			obj, found, err := k.get(ctx, w.namespace, w.name)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if !found {
				delete(out, key(w.namespace, w.name))
			} else {
				out[key(w.namespace, w.name)] = obj
			}
			return nil
		})
	}
	return reads.Wait()
}

// objectOrNil is obj as a metav1.Object, nil when absent.
func objectOrNil[T metav1.Object](obj T, ok bool) metav1.Object {
	if !ok {
		return nil
	}
	return obj
}

// liveGet adapts a typed Get in a namespace to cachedKind.get.
func liveGet[T metav1.Object](get func(namespace string) func(ctx context.Context, name string, opts metav1.GetOptions) (T, error)) func(ctx context.Context, namespace, name string) (T, bool, error) {
	return func(ctx context.Context, namespace, name string) (T, bool, error) {
		var zero T
		obj, err := get(namespace)(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return zero, false, nil
		}
		if err != nil {
			return zero, false, err
		}
		return obj, true, nil
	}
}

// lag is what the cache of a kind is known to miss: everything while its
// informer has no watch open (kube-apiserver ended it or is restarting),
// until it has one again; everything since its informer's list or watch
// failed (a CRD replaced), until the informer has listed again; and a
// resourceVersion a read needed and the cache did not
// reach in time, until the cache has seen it. Reading the kind live
// meanwhile keeps a list from showing an older state than its
// resourceVersion, which a watch from that resourceVersion would never
// correct.
type lag struct {
	mu sync.Mutex
	// disconnected: the informer has no watch open; watches counts the
	// watches it started.
	disconnected bool
	watches      uint64
	// broken: the informer failed at lastSync brokenAt and has not listed
	// since.
	broken   bool
	brokenAt string
	// needed is a resourceVersion the cache must reach, 0 for none; seen is
	// the newest resourceVersion of an object the cache has applied.
	needed, seen uint64
}

// failed records that the informer's list or watch failed at lastSync.
func (l *lag) failed(lastSync string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.broken, l.brokenAt = true, lastSync
}

// until records that the cache must reach resourceVersion.
func (l *lag) until(resourceVersion uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if resourceVersion > l.seen {
		l.needed = max(l.needed, resourceVersion)
	}
}

// applied records that the cache holds an object at resourceVersion.
func (l *lag) applied(resourceVersion string) {
	rv, err := strconv.ParseUint(resourceVersion, 10, 64)
	if err != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen = max(l.seen, rv)
}

// behind tells whether the cache is still missing something, given the
// informer's last synced resourceVersion.
func (l *lag) behind(lastSync string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.broken && lastSync != l.brokenAt {
		// Listed again: the cache holds everything up to lastSync (a
		// deletion missed meanwhile leaves no newer object to have seen).
		l.broken = false
		if synced, err := strconv.ParseUint(lastSync, 10, 64); err == nil && synced >= l.needed {
			l.needed = 0
		}
	}
	if l.needed > 0 && l.seen >= l.needed {
		l.needed = 0
	}
	return l.disconnected || l.broken || l.needed > 0
}

// watching wraps an informer's watch function so that the lag knows
// whether a watch is open: from a successful start until the informer
// stops it (which it does when the watch ends).
func (l *lag) watching(start func(context.Context, metav1.ListOptions) (watch.Interface, error)) func(context.Context, metav1.ListOptions) (watch.Interface, error) {
	return func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
		w, err := start(ctx, opts)
		l.mu.Lock()
		defer l.mu.Unlock()
		l.watches++
		l.disconnected = err != nil
		if err != nil {
			return nil, err
		}
		this := l.watches
		return &stoppedWatch{Interface: w, stopped: func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			// A late Stop of an earlier watch says nothing of this one.
			if l.watches == this {
				l.disconnected = true
			}
		}}, nil
	}
}

// stoppedWatch calls stopped when it is stopped.
type stoppedWatch struct {
	watch.Interface
	once    sync.Once
	stopped func()
}

func (w *stoppedWatch) Stop() {
	w.once.Do(w.stopped)
	w.Interface.Stop()
}
