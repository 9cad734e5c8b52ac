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

package backendstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/klog/v2"
)

// translatingWatch turns a backend watch into a watch of public objects.
// Bookmarks become empty public objects carrying the resourceVersion and
// annotations (so the WatchList "initial-events-end" marker survives);
// error events (*metav1.Status, such as 410 Gone) pass unchanged.
//
// The projection may read other backend objects besides the primary one;
// an Adapter whose public objects must follow their changes records them
// on the primary object, so that every change travels this one stream, in
// resourceVersion order.
//
// The backend watch resumes by itself when kube-apiserver ends it. The watch never skips an event it cannot read:
// it ends with a 410 error instead, and the client lists again.
//
// With a field selector on projected fields, the watch applies it itself and,
// like kube-apiserver, turns an object that starts or stops matching into
// ADDED or DELETED.
type translatingWatch[B BackendObject, L runtime.Object] struct {
	// backend carries the primary watch's events, resumed by RunResuming.
	backend <-chan watch.Event
	cancel  context.CancelFunc
	store   *Store[B, L]
	options *metainternalversion.ListOptions
	// matched records which objects the caller has seen as matching.
	matched map[types.UID]bool
	// unannounced are objects whose ADDED came while a write of theirs was
	// under way: their first complete state goes out as ADDED.
	unannounced map[types.UID]bool
	result      chan watch.Event
	done        chan struct{}
	stop        sync.Once
}

// resultBuffer is how many translated events wait for the client's
// connection. The generic server flushes the response (and, for gzip, ends
// a compressed block) whenever no event is waiting: unbuffered, that was
// once per event, 10,000 flushes for an informer's initial events, where
// kube-apiserver's own watches, buffered too, flush once per burst.
const resultBuffer = 100

func newTranslatingWatch[B BackendObject, L runtime.Object](ctx context.Context, cancel context.CancelFunc, backend <-chan watch.Event, store *Store[B, L], options *metainternalversion.ListOptions, matched map[types.UID]bool) *translatingWatch[B, L] {
	w := &translatingWatch[B, L]{
		backend:     backend,
		cancel:      cancel,
		store:       store,
		options:     options,
		matched:     matched,
		unannounced: map[types.UID]bool{},
		result:      make(chan watch.Event, resultBuffer),
		done:        make(chan struct{}),
	}
	go w.run(ctx)
	return w
}

func (w *translatingWatch[B, L]) ResultChan() <-chan watch.Event { return w.result }

func (w *translatingWatch[B, L]) Stop() {
	w.stop.Do(func() { close(w.done) })
}

// run sends the translated events until the caller stops, the request ends,
// or an event cannot be sent: then the last event is an error, so that the
// client lists again rather than miss it.
func (w *translatingWatch[B, L]) run(ctx context.Context) {
	defer close(w.result)
	defer w.cancel()
	for {
		var out watch.Event
		var ok bool
		var err error
		select {
		case <-ctx.Done():
			return
		case <-w.done:
			return
		case event, open := <-w.backend:
			if !open {
				return
			}
			out, ok, err = w.translate(ctx, event)
		}
		if err != nil {
			if ctx.Err() == nil {
				klog.ErrorS(err, "Ending a watch whose event could not be read", "kind", w.store.Kind)
				w.send(ctx, watch.Event{Type: watch.Error, Object: expiredStatus(err)})
			}
			return
		}
		if !ok {
			continue
		}
		if !w.send(ctx, out) || out.Type == watch.Error {
			return
		}
	}
}

func (w *translatingWatch[B, L]) send(ctx context.Context, event watch.Event) bool {
	select {
	case w.result <- event:
		return true
	case <-ctx.Done():
		return false
	case <-w.done:
		return false
	}
}

// Reading what an event shows may fail for a moment (a backend request
// throttled or refused); it is tried this often before the watch ends.
const (
	readAttempts = 4
	readBackoff  = 100 * time.Millisecond
)

// retry runs read until it succeeds, fails for good, or has failed
// readAttempts times.
func retry[T any](ctx context.Context, read func() (T, error)) (T, error) {
	backoff := readBackoff
	for attempt := 1; ; attempt++ {
		out, err := read()
		if err == nil || attempt == readAttempts || errors.Is(err, errNotProjectable) {
			return out, err
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return out, ctx.Err()
		}
		backoff *= 2
	}
}

func (w *translatingWatch[B, L]) translate(ctx context.Context, event watch.Event) (watch.Event, bool, error) {
	switch event.Type {
	case watch.Error:
		return event, true, nil
	case watch.Bookmark:
		out, ok := w.bookmark(event)
		return out, ok, nil
	}
	primary, ok := event.Object.(B)
	if !ok {
		return event, false, fmt.Errorf("unexpected %T in the backend watch of %s", event.Object, w.store.Kind)
	}
	uid := primary.GetUID()
	if inFlight, ok := w.store.Adapter.(WriteTracker[B]); ok && event.Type != watch.Deleted && inFlight.WriteInProgress(primary) {
		// A state half written: the write's last step sends it whole.
		if event.Type == watch.Added {
			w.unannounced[uid] = true
		}
		return event, false, nil
	}
	switch {
	case w.unannounced[uid] && event.Type == watch.Deleted:
		// Gone before it was ever shown.
		delete(w.unannounced, uid)
		return event, false, nil
	case w.unannounced[uid]:
		delete(w.unannounced, uid)
		event.Type = watch.Added
	}
	obj, err := retry(ctx, func() (runtime.Object, error) { return w.store.Adapter.ToPublic(ctx, primary) })
	if errors.Is(err, errNotProjectable) {
		// As in a list: an object that is not a readable public object is
		// not shown.
		klog.ErrorS(err, "Skipping backend object that does not project", "kind", w.store.Kind, "namespace", primary.GetNamespace(), "name", primary.GetName())
		return event, false, nil
	}
	if err != nil {
		return event, false, fmt.Errorf("reading %s %s/%s: %w", w.store.Kind, primary.GetNamespace(), primary.GetName(), err)
	}
	out, ok := w.filter(watch.Event{Type: event.Type, Object: obj}, uid)
	return out, ok, nil
}

// filter applies the projected part of a field selector to an event.
func (w *translatingWatch[B, L]) filter(event watch.Event, uid types.UID) (watch.Event, bool) {
	if _, rest := splitFieldSelector(w.options.FieldSelector); !rest {
		return event, true
	}
	matches := w.options.FieldSelector.Matches(w.store.FieldSet(event.Object))
	seen := w.matched[uid]
	switch {
	case event.Type == watch.Deleted:
		delete(w.matched, uid)
		return event, seen
	case matches && !seen:
		w.matched[uid] = true
		return watch.Event{Type: watch.Added, Object: event.Object}, true
	case !matches && seen:
		delete(w.matched, uid)
		return watch.Event{Type: watch.Deleted, Object: event.Object}, true
	default:
		return event, matches
	}
}

func (w *translatingWatch[B, L]) bookmark(event watch.Event) (watch.Event, bool) {
	in, err := meta.Accessor(event.Object)
	if err != nil {
		return event, false
	}
	obj := w.store.NewFunc()
	out, err := meta.Accessor(obj)
	if err != nil {
		return event, false
	}
	out.SetResourceVersion(in.GetResourceVersion())
	out.SetAnnotations(in.GetAnnotations())
	return watch.Event{Type: watch.Bookmark, Object: obj}, true
}
