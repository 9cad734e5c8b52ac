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

package backend

import (
	"context"
	"strconv"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

// Progress follows how far an informer's cache has come, so that a read
// from it can be as consistent as kube-apiserver's from its watch cache:
// once the cache has applied a change its watch delivered at
// resourceVersion R, it holds every change of its objects up to R, since
// a watch delivers them in order. The changes it applies while it replaces
// its store (after a list, or a watch's initial events) do not count: they
// come in key order, not resourceVersion order.
//
// Wrap the informer's list and watch with Listing and Watching and give it
// Handler.
type Progress struct {
	mu sync.Mutex
	// replaced is the resourceVersion of the informer's last store
	// replacement; applied is the newest change applied after it, 0 for
	// none yet.
	replaced, applied uint64
	changed           *Broadcast
}

func NewProgress() *Progress { return &Progress{changed: NewBroadcast()} }

// Applied is the newest resourceVersion up to which the cache holds every
// change (0 when it cannot tell), and a channel closed at its next change.
func (p *Progress) Applied() (uint64, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.applied, p.changed.Next()
}

// Listing wraps an informer's list: the store is about to be replaced with
// what it returns.
func (p *Progress) Listing(list func(context.Context, metav1.ListOptions) (runtime.Object, error)) func(context.Context, metav1.ListOptions) (runtime.Object, error) {
	return func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
		out, err := list(ctx, opts)
		if err == nil {
			if m, err := meta.ListAccessor(out); err == nil {
				p.replace(m.GetResourceVersion())
			}
		}
		return out, err
	}
}

// Watching wraps an informer's watch: the bookmark that ends a watch's
// initial events is where the store is about to be replaced with them.
func (p *Progress) Watching(watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error)) func(context.Context, metav1.ListOptions) (watch.Interface, error) {
	return func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
		w, err := watchFn(ctx, opts)
		if err != nil {
			return nil, err
		}
		return watch.Filter(w, func(e watch.Event) (watch.Event, bool) {
			if e.Type == watch.Bookmark {
				if m, err := meta.Accessor(e.Object); err == nil && m.GetAnnotations()[metav1.InitialEventsAnnotationKey] == "true" {
					p.replace(m.GetResourceVersion())
				}
			}
			return e, true
		}), nil
	}
}

// Handler records each change the informer applies.
func (p *Progress) Handler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    p.apply,
		UpdateFunc: func(_, obj any) { p.apply(obj) },
		DeleteFunc: p.apply,
	}
}

func (p *Progress) replace(resourceVersion string) {
	rv, err := strconv.ParseUint(resourceVersion, 10, 64)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		// An unreadable version: nothing applied from now on counts.
		rv = ^uint64(0)
	}
	p.replaced, p.applied = rv, 0
}

func (p *Progress) apply(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	rv, err := strconv.ParseUint(m.GetResourceVersion(), 10, 64)
	if err != nil {
		return
	}
	p.mu.Lock()
	if rv > p.replaced && rv > p.applied {
		p.applied = rv
	}
	p.mu.Unlock()
	p.changed.Notify()
}
