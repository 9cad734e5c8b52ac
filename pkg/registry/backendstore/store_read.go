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

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	"github.com/cozystack/vm-apiserver/pkg/backendnames"
)

// Get reads the public object from its primary backend object.
func (s *Store[B, L]) Get(ctx context.Context, name string, opts *metav1.GetOptions) (runtime.Object, error) {
	if err := s.requireBackend(); err != nil {
		return nil, err
	}
	primary, err := s.getPrimary(ctx, name, *opts)
	if err != nil {
		return nil, err
	}
	return s.toPublic(ctx, primary)
}

// List lists the primary backend objects that carry the kind label, with
// the caller's selectors, paging and resourceVersion passed through.
func (s *Store[B, L]) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	if err := s.requireBackend(); err != nil {
		return nil, err
	}
	backendOpts, err := s.backendListOptions(options)
	if err != nil {
		return nil, err
	}
	keep := func(obj runtime.Object) bool { return s.matchesFields(options, obj) }
	items, listMeta, cached, err := s.listCached(ctx, backendOpts, keep)
	if err == nil && !cached {
		items, listMeta, err = s.listProjected(ctx, backendOpts, keep)
	}
	if err != nil {
		return nil, err
	}
	out := s.NewListFunc()
	if err := meta.SetList(out, items); err != nil {
		return nil, err
	}
	outMeta, err := meta.ListAccessor(out)
	if err != nil {
		return nil, err
	}
	outMeta.SetResourceVersion(listMeta.ResourceVersion)
	outMeta.SetContinue(listMeta.Continue)
	outMeta.SetRemainingItemCount(listMeta.RemainingItemCount)
	return out, nil
}

// listCached answers a consistent, unpaged list from the adapter's copies
// of the primary objects when it has them and can show they are current
// (see CachedLister); its bool is false when the list is to be read live.
// A list at a given resourceVersion, or in pages, is kube-apiserver's to
// answer: its snapshot and continue tokens.
func (s *Store[B, L]) listCached(ctx context.Context, opts metav1.ListOptions, keep func(runtime.Object) bool) ([]runtime.Object, metav1.ListMeta, bool, error) {
	cache, ok := s.Adapter.(CachedLister[B])
	if !ok || opts.ResourceVersion != "" || opts.Limit > 0 || opts.Continue != "" {
		return nil, metav1.ListMeta{}, false, nil
	}
	namespace := genericapirequest.NamespaceValue(ctx)
	primaries, resourceVersion, ok, err := cache.ListCached(ctx, namespace, opts)
	if err != nil || !ok {
		return nil, metav1.ListMeta{}, false, s.publicError(err, "")
	}
	projected, err := s.Adapter.ToPublicList(ctx, namespace, primaries)
	if err != nil {
		return nil, metav1.ListMeta{}, false, s.publicError(err, "")
	}
	return appendKept(nil, projected, keep), metav1.ListMeta{ResourceVersion: resourceVersion}, true, nil
}

// appendKept appends to items the projected objects that keep accepts. One
// unreadable object (nil) must not hide the others; a page may end up
// shorter than the limit, which the API allows.
func appendKept(items, projected []runtime.Object, keep func(runtime.Object) bool) []runtime.Object {
	for _, obj := range projected {
		if obj != nil && keep(obj) {
			items = append(items, obj)
		}
	}
	return items
}

// listChunk is how many primary objects a list reads from the backend at a
// time. Projected objects are a fraction of the size of the primary ones,
// so reading 10,000 VMs in chunks holds two chunks of them in memory (the
// one projected, the next one read meanwhile) rather than all, and the list
// costs tens of MiB less at its peak.
const listChunk = 500

// listProjected lists the primary objects opts selects, in chunks of at
// most listChunk from one consistent snapshot (continue tokens carry its
// resourceVersion), and keeps the projections that keep accepts. Up to
// opts.Limit primary objects are read (all when 0); the list metadata is
// the snapshot's resourceVersion and the continue token and remaining
// count after the last object read.
//
// A snapshot can expire between chunks (etcd compacted it); a list the
// client did not page itself then starts over once, from a new snapshot,
// rather than answer a continue token the client never sent with 410.
func (s *Store[B, L]) listProjected(ctx context.Context, opts metav1.ListOptions, keep func(runtime.Object) bool) ([]runtime.Object, metav1.ListMeta, error) {
	items, out, expired, err := s.listChunks(ctx, opts, keep)
	if expired && opts.Continue == "" {
		items, out, _, err = s.listChunks(ctx, opts, keep)
	}
	return items, out, err
}

// listChunks is listProjected's one pass; its bool tells that it failed
// because the snapshot expired after the first chunk. The next chunk is
// read while this one is projected.
func (s *Store[B, L]) listChunks(ctx context.Context, opts metav1.ListOptions, keep func(runtime.Object) bool) ([]runtime.Object, metav1.ListMeta, bool, error) {
	namespace := genericapirequest.NamespaceValue(ctx)
	client := s.Adapter.Client(namespace)
	ctx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	want, read := opts.Limit, int64(0)
	readChunk := func() <-chan backendList[L] {
		opts.Limit = listChunk
		if want > 0 && want-read < listChunk {
			opts.Limit = want - read
		}
		chunk := make(chan backendList[L], 1)
		go func(opts metav1.ListOptions) {
			list, err := client.List(ctx, opts)
			chunk <- backendList[L]{list, err}
		}(opts)
		return chunk
	}
	var items []runtime.Object
	var out metav1.ListMeta
	next := readChunk()
	for first := true; ; first = false {
		chunk := <-next
		if chunk.err != nil {
			return nil, out, !first && apierrors.IsResourceExpired(chunk.err), s.publicError(chunk.err, "")
		}
		listMeta, err := meta.ListAccessor(chunk.list)
		if err != nil {
			return nil, out, false, err
		}
		if first {
			out.ResourceVersion = listMeta.GetResourceVersion()
		}
		primaries := s.Adapter.Items(chunk.list)
		read += int64(len(primaries))
		out.Continue, out.RemainingItemCount = listMeta.GetContinue(), listMeta.GetRemainingItemCount()
		last := out.Continue == "" || (want > 0 && read >= want)
		if !last {
			// The token names the snapshot; kube-apiserver refuses a
			// resourceVersion beside it.
			opts.Continue, opts.ResourceVersion, opts.ResourceVersionMatch = out.Continue, "", ""
			next = readChunk()
		}
		projected, err := s.Adapter.ToPublicList(ctx, namespace, primaries)
		if err != nil {
			return nil, out, false, s.publicError(err, "")
		}
		items = appendKept(items, projected, keep)
		if last {
			return items, out, false, nil
		}
	}
}

// backendList is one chunk of a list read from the backend.
type backendList[L runtime.Object] struct {
	list L
	err  error
}

// Watch watches the primary backend objects and translates every event.
func (s *Store[B, L]) Watch(ctx context.Context, options *metainternalversion.ListOptions) (watch.Interface, error) {
	if options == nil {
		options = &metainternalversion.ListOptions{}
	}
	if err := s.requireBackend(); err != nil {
		return nil, err
	}
	backendOpts, err := s.backendListOptions(options)
	if err != nil {
		return nil, err
	}
	matched, err := s.matchedAtStart(ctx, options, backendOpts)
	if err != nil {
		return nil, err
	}
	client := s.Adapter.Client(genericapirequest.NamespaceValue(ctx))
	if backendOpts.ResourceVersion == "" {
		// "From now" must become a resourceVersion that the watch can
		// resume from after kube-apiserver ends it.
		now, err := client.List(ctx, metav1.ListOptions{LabelSelector: backendOpts.LabelSelector, Limit: 1})
		if err != nil {
			return nil, s.publicError(err, "")
		}
		backendOpts.ResourceVersion, err = listResourceVersion(now)
		if err != nil {
			return nil, err
		}
	}
	// The public watch ends on its own timer (the generic server applies the
	// client's timeoutSeconds); the backend one on the server's.
	backendOpts = s.Clients.WatchOptions(backendOpts)
	callerBookmarks := backendOpts.AllowWatchBookmarks
	backendOpts.AllowWatchBookmarks = true
	w, err := client.Watch(ctx, backendOpts)
	if err != nil {
		return nil, s.publicError(err, "")
	}
	watchCtx, cancel := context.WithCancel(ctx)
	primary := make(chan watch.Event)
	go func() {
		defer close(primary)
		RunResuming(watchCtx, s.BackendGVR.Resource, client.Watch, w, backendOpts, callerBookmarks, primary)
	}()
	return newTranslatingWatch(watchCtx, cancel, primary, s, options, matched), nil
}

func listResourceVersion(list runtime.Object) (string, error) {
	m, err := meta.ListAccessor(list)
	if err != nil {
		return "", err
	}
	return m.GetResourceVersion(), nil
}

// matchedAtStart lists which objects match a projected field selector where
// the watch starts, so that one that stops matching is sent as DELETED to
// a client that listed it. A watch that replays initial events learns
// that from them instead.
func (s *Store[B, L]) matchedAtStart(ctx context.Context, options *metainternalversion.ListOptions, backendOpts metav1.ListOptions) (map[types.UID]bool, error) {
	matched := map[types.UID]bool{}
	if _, rest := splitFieldSelector(options.FieldSelector); !rest || (options.SendInitialEvents != nil && *options.SendInitialEvents) {
		return matched, nil
	}
	listOpts := metav1.ListOptions{LabelSelector: backendOpts.LabelSelector, FieldSelector: backendOpts.FieldSelector, ResourceVersion: backendOpts.ResourceVersion}
	if rv := backendOpts.ResourceVersion; rv != "" && rv != "0" {
		listOpts.ResourceVersionMatch = metav1.ResourceVersionMatchExact
	}
	items, _, err := s.listProjected(ctx, listOpts, func(obj runtime.Object) bool { return s.matchesFields(options, obj) })
	if err != nil {
		return nil, err
	}
	for _, obj := range items {
		if m, err := meta.Accessor(obj); err == nil {
			matched[m.GetUID()] = true
		}
	}
	return matched, nil
}

// backendListOptions passes the caller's options through, restricted to
// backend objects that carry this kind's label.
func (s *Store[B, L]) backendListOptions(options *metainternalversion.ListOptions) (metav1.ListOptions, error) {
	var out metav1.ListOptions
	if options == nil {
		options = &metainternalversion.ListOptions{}
	}
	if err := metainternalversion.Convert_internalversion_ListOptions_To_v1_ListOptions(options, &out, nil); err != nil {
		return out, err
	}
	selector := options.LabelSelector
	if selector == nil {
		selector = labels.Everything()
	}
	kindRequirement, err := labels.NewRequirement(backendnames.KindLabel, selection.Equals, []string{s.Kind})
	if err != nil {
		return out, err
	}
	out.LabelSelector = selector.Add(*kindRequirement).String()
	out.FieldSelector = ""
	if backendFields, _ := splitFieldSelector(options.FieldSelector); backendFields != nil {
		out.FieldSelector = backendFields.String()
	}
	return out, nil
}

// matchesFields applies the part of the field selector the backend could
// not (fields of the projection, such as status.phase).
func (s *Store[B, L]) matchesFields(options *metainternalversion.ListOptions, obj runtime.Object) bool {
	if options == nil {
		return true
	}
	if _, rest := splitFieldSelector(options.FieldSelector); !rest {
		return true
	}
	return options.FieldSelector.Matches(s.FieldSet(obj))
}
