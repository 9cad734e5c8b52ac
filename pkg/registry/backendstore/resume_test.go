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
	"net/http"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
)

// fakeBackend hands out one fake watch per start and records the options
// each start was given.
type fakeBackend struct {
	mu      sync.Mutex
	watches chan *watch.FakeWatcher
	starts  []metav1.ListOptions
	errs    []error
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{watches: make(chan *watch.FakeWatcher, 10)}
}

func (b *fakeBackend) start(_ context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.starts = append(b.starts, opts)
	if len(b.errs) > 0 {
		err := b.errs[0]
		b.errs = b.errs[1:]
		return nil, err
	}
	w := watch.NewFake()
	b.watches <- w
	return w, nil
}

func (b *fakeBackend) lastStart() metav1.ListOptions {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.starts[len(b.starts)-1]
}

func pod(rv string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", ResourceVersion: rv}}
}

func run(t *testing.T, b *fakeBackend, opts metav1.ListOptions) (<-chan watch.Event, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan watch.Event)
	go func() {
		defer close(out)
		RunResuming(ctx, "pods", b.start, nil, opts, opts.AllowWatchBookmarks, out)
	}()
	t.Cleanup(cancel)
	return out, cancel
}

func next(t *testing.T, out <-chan watch.Event) watch.Event {
	t.Helper()
	event, ok := <-out
	if !ok {
		t.Fatal("the stream ended")
	}
	return event
}

func TestRunResumingStartsAgainFromTheLastResourceVersion(t *testing.T) {
	b := newFakeBackend()
	out, _ := run(t, b, metav1.ListOptions{ResourceVersion: "10"})
	first := <-b.watches
	first.Add(pod("11"))
	if e := next(t, out); e.Type != watch.Added {
		t.Fatalf("got %v", e.Type)
	}
	// A bookmark the caller did not ask for moves the position but is not
	// sent.
	first.Action(watch.Bookmark, pod("15"))
	first.Stop()
	second := <-b.watches
	if rv := b.lastStart().ResourceVersion; rv != "15" {
		t.Fatalf("resumed from %q, want 15", rv)
	}
	if !b.lastStart().AllowWatchBookmarks {
		t.Fatal("a resumed watch must ask for bookmarks to keep its position")
	}
	second.Modify(pod("16"))
	if e := next(t, out); e.Type != watch.Modified || e.Object.(*corev1.Pod).ResourceVersion != "16" {
		t.Fatalf("got %v %v", e.Type, e.Object)
	}
}

func TestRunResumingEndsWithTheBackendsGone(t *testing.T) {
	b := newFakeBackend()
	out, _ := run(t, b, metav1.ListOptions{ResourceVersion: "10"})
	w := <-b.watches
	gone := &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusGone, Reason: metav1.StatusReasonExpired, Message: "too old"}
	w.Error(gone)
	if e := next(t, out); e.Type != watch.Error || e.Object.(*metav1.Status).Code != http.StatusGone {
		t.Fatalf("got %v %v", e.Type, e.Object)
	}
	if _, open := <-out; open {
		t.Fatal("the stream went on after 410")
	}
}

func TestRunResumingEndsWhenRestartIsTooOld(t *testing.T) {
	b := newFakeBackend()
	out, _ := run(t, b, metav1.ListOptions{ResourceVersion: "10"})
	w := <-b.watches
	b.mu.Lock()
	b.errs = []error{apierrors.NewResourceExpired("too old resource version")}
	b.mu.Unlock()
	w.Stop()
	e := next(t, out)
	if e.Type != watch.Error || e.Object.(*metav1.Status).Code != http.StatusGone {
		t.Fatalf("got %v %v", e.Type, e.Object)
	}
}

func TestRunResumingRetriesAMissingResource(t *testing.T) {
	b := newFakeBackend()
	b.errs = []error{apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, "")}
	out, _ := run(t, b, metav1.ListOptions{ResourceVersion: "10"})
	w := <-b.watches
	w.Add(pod("12"))
	if e := next(t, out); e.Type != watch.Added {
		t.Fatalf("got %v", e.Type)
	}
}

func TestRunResumingCannotResumeBeforeInitialEventsEnd(t *testing.T) {
	b := newFakeBackend()
	yes := true
	out, _ := run(t, b, metav1.ListOptions{SendInitialEvents: &yes, AllowWatchBookmarks: true})
	w := <-b.watches
	w.Add(pod("7"))
	next(t, out)
	w.Stop()
	if e := next(t, out); e.Type != watch.Error {
		t.Fatalf("a watch that ended during its initial events must end with an error, got %v", e.Type)
	}
}

func TestRunResumingAfterInitialEventsDropsThem(t *testing.T) {
	b := newFakeBackend()
	yes := true
	out, _ := run(t, b, metav1.ListOptions{SendInitialEvents: &yes, AllowWatchBookmarks: true, ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan})
	w := <-b.watches
	w.Add(pod("7"))
	next(t, out)
	end := pod("9")
	end.Annotations = map[string]string{metav1.InitialEventsAnnotationKey: "true"}
	w.Action(watch.Bookmark, end)
	if e := next(t, out); e.Type != watch.Bookmark {
		t.Fatalf("the caller asked for bookmarks: got %v", e.Type)
	}
	w.Stop()
	<-b.watches
	opts := b.lastStart()
	if opts.ResourceVersion != "9" || opts.SendInitialEvents != nil || opts.ResourceVersionMatch != "" {
		t.Fatalf("resumed with %+v", opts)
	}
}
