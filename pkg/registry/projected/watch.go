package projected

import (
	"context"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/klog/v2"

	"github.com/cozystack/vm-apiserver/pkg/projection"
)

// translatingWatch turns a backend watch into a watch of public objects.
// Bookmarks become empty public objects carrying the resourceVersion and
// annotations (so the WatchList "initial-events-end" marker survives);
// error events (*metav1.Status, such as 410 Gone) pass unchanged.
//
// A change to another backend object the projection reads (joined) is sent
// as MODIFIED of the public object, read again.
//
// With a field selector on projected fields, the watch applies it itself and,
// like kube-apiserver, turns an object that starts or stops matching into
// ADDED or DELETED.
type translatingWatch[B BackendObject, L runtime.Object] struct {
	backend watch.Interface
	joined  <-chan types.NamespacedName
	cancel  context.CancelFunc
	store   *Store[B, L]
	options *metainternalversion.ListOptions
	// matched records which objects the caller has seen as matching.
	matched map[types.UID]bool
	// known tells whether the caller has the object a joined change
	// concerns.
	known  *knownObjects
	result chan watch.Event
	done   chan struct{}
	stop   sync.Once
}

func newTranslatingWatch[B BackendObject, L runtime.Object](ctx context.Context, cancel context.CancelFunc, backend watch.Interface, joined <-chan types.NamespacedName, store *Store[B, L], options *metainternalversion.ListOptions, matched map[types.UID]bool, known *knownObjects) *translatingWatch[B, L] {
	w := &translatingWatch[B, L]{
		backend: backend,
		joined:  joined,
		cancel:  cancel,
		store:   store,
		options: options,
		matched: matched,
		known:   known,
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
	defer w.cancel()
	for {
		var out watch.Event
		var ok bool
		select {
		case <-ctx.Done():
			return
		case <-w.done:
			return
		case event, open := <-w.backend.ResultChan():
			if !open {
				return
			}
			out, ok = w.translate(ctx, event)
		case name, open := <-w.joined:
			if !open {
				// The joined watches ended; the primary one goes on.
				w.joined = nil
				continue
			}
			out, ok = w.reread(ctx, name)
		}
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

// reread reads a primary object again after a joined object changed. An
// object the caller does not have yet is left to its own pending event,
// which will read the joined objects as they are then: a MODIFIED must not
// come before the ADDED.
func (w *translatingWatch[B, L]) reread(ctx context.Context, name types.NamespacedName) (watch.Event, bool) {
	primary, err := w.store.Resource.Client(name.Namespace).Get(ctx, name.Name, metav1.GetOptions{})
	if err != nil || primary.GetLabels()[projection.KindLabel] != w.store.Kind || !w.known.has(primary) {
		return watch.Event{}, false
	}
	return w.translate(ctx, watch.Event{Type: watch.Modified, Object: primary})
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
	w.known.record(event.Type, primary)
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
