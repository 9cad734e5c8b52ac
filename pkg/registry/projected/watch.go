package projected

import (
	"context"
	"sync"

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
// With a field selector on projected fields, the watch applies it itself and,
// like kube-apiserver, turns an object that starts or stops matching into
// ADDED or DELETED.
type translatingWatch[B BackendObject, L runtime.Object] struct {
	backend watch.Interface
	store   *Store[B, L]
	options *metainternalversion.ListOptions
	// matched records which objects the caller has seen as matching.
	matched map[types.UID]bool
	result  chan watch.Event
	done    chan struct{}
	stop    sync.Once
}

func newTranslatingWatch[B BackendObject, L runtime.Object](ctx context.Context, backend watch.Interface, store *Store[B, L], options *metainternalversion.ListOptions, matched map[types.UID]bool) *translatingWatch[B, L] {
	w := &translatingWatch[B, L]{
		backend: backend,
		store:   store,
		options: options,
		matched: matched,
		result:  make(chan watch.Event),
		done:    make(chan struct{}),
	}
	go w.run(ctx)
	return w
}

func (w *translatingWatch[B, L]) ResultChan() <-chan watch.Event { return w.result }

func (w *translatingWatch[B, L]) Stop() {
	w.stop.Do(func() { close(w.done) })
}

func (w *translatingWatch[B, L]) run(ctx context.Context) {
	defer close(w.result)
	defer w.backend.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.done:
			return
		case event, ok := <-w.backend.ResultChan():
			if !ok {
				return
			}
			out, ok := w.translate(ctx, event)
			if !ok {
				continue
			}
			select {
			case w.result <- out:
			case <-ctx.Done():
				return
			case <-w.done:
				return
			}
		}
	}
}

func (w *translatingWatch[B, L]) translate(ctx context.Context, event watch.Event) (watch.Event, bool) {
	switch event.Type {
	case watch.Error:
		return event, true
	case watch.Bookmark:
		return w.bookmark(event)
	}
	primary, ok := event.Object.(B)
	if !ok {
		klog.ErrorS(nil, "Unexpected object in backend watch", "kind", w.store.Kind, "type", event.Type)
		return event, false
	}
	obj, err := w.store.Resource.ToPublic(ctx, primary)
	if err != nil {
		klog.ErrorS(err, "Skipping backend watch event that does not project", "kind", w.store.Kind, "namespace", primary.GetNamespace(), "name", primary.GetName())
		return event, false
	}
	return w.filter(watch.Event{Type: event.Type, Object: obj}, primary.GetUID())
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
