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
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

// watchWidgets starts a public watch with opts over a backend watch the
// test drives; objs are the ConfigMaps that exist.
func watchWidgets(t *testing.T, opts *metainternalversion.ListOptions, objs ...runtime.Object) (watch.Interface, *watch.FakeWatcher, *kubefake.Clientset) {
	t.Helper()
	s, kube := newWidgetStore(t, objs...)
	backendWatch := watch.NewFakeWithChanSize(10, false)
	kube.PrependWatchReactor("configmaps", func(clienttesting.Action) (bool, watch.Interface, error) {
		return true, backendWatch, nil
	})
	w, err := s.Watch(inTenant(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return w, backendWatch, kube
}

func from(rv string) *metainternalversion.ListOptions {
	return &metainternalversion.ListOptions{ResourceVersion: rv}
}

// expect checks the type and name (and for a bookmark the
// resourceVersion) of the next event.
func expect(t *testing.T, w watch.Interface, typ watch.EventType, name string) *corev1.ConfigMap {
	t.Helper()
	e := receive(t, w)
	if e.Type != typ {
		t.Fatalf("want %s %s, got %s %+v", typ, name, e.Type, e.Object)
	}
	cm, ok := e.Object.(*corev1.ConfigMap)
	if !ok {
		t.Fatalf("want a public object, got %T", e.Object)
	}
	if cm.Name != name {
		t.Fatalf("want %s %s, got %s %s", typ, name, e.Type, cm.Name)
	}
	return cm
}

func TestWatchTranslatesBackendEventsToPublicObjects(t *testing.T) {
	w, backendWatch, _ := watchWidgets(t, from("100"))
	backendWatch.Add(widget("a", "101"))
	if cm := expect(t, w, watch.Added, "a"); len(cm.Labels) != 0 {
		t.Fatalf("reserved keys shown: %v", cm.Labels)
	}
	backendWatch.Modify(widget("a", "102", "k", "v"))
	if cm := expect(t, w, watch.Modified, "a"); cm.Data["k"] != "v" {
		t.Fatalf("got %+v", cm)
	}
	backendWatch.Delete(widget("a", "103"))
	expect(t, w, watch.Deleted, "a")
}

func TestWatchTurnsBookmarksIntoEmptyPublicObjectsWithTheirAnnotations(t *testing.T) {
	opts := from("100")
	opts.AllowWatchBookmarks = true
	w, backendWatch, _ := watchWidgets(t, opts)
	mark := widget("", "150", "k", "v")
	mark.Annotations = map[string]string{metav1.InitialEventsAnnotationKey: "true"}
	backendWatch.Action(watch.Bookmark, mark)
	cm := expect(t, w, watch.Bookmark, "")
	if cm.ResourceVersion != "150" || cm.Annotations[metav1.InitialEventsAnnotationKey] != "true" || len(cm.Data) != 0 {
		t.Fatalf("want an empty object at 150 that keeps the initial-events-end marker, got %+v", cm)
	}
}

func TestWatchSendsNoBookmarksTheClientDidNotAskFor(t *testing.T) {
	w, backendWatch, _ := watchWidgets(t, from("100"))
	backendWatch.Action(watch.Bookmark, widget("", "150"))
	backendWatch.Add(widget("a", "151"))
	expect(t, w, watch.Added, "a")
}

func TestWatchHidesAWriteInProgressAndAnnouncesItsCompleteStateAsAdded(t *testing.T) {
	w, backendWatch, _ := watchWidgets(t, from("100"))
	half := func(name, rv string) *corev1.ConfigMap {
		cm := widget(name, rv)
		cm.Annotations = map[string]string{inProgress: "yes"}
		return cm
	}
	backendWatch.Add(half("a", "101"))
	backendWatch.Modify(half("a", "102"))
	backendWatch.Modify(widget("a", "103", "k", "v"))
	if cm := expect(t, w, watch.Added, "a"); cm.Data["k"] != "v" {
		t.Fatalf("want the complete state, got %+v", cm)
	}
	// Created and deleted while half written: never shown.
	backendWatch.Add(half("b", "104"))
	backendWatch.Delete(widget("b", "105"))
	backendWatch.Delete(widget("a", "106"))
	expect(t, w, watch.Deleted, "a")
}

func TestWatchEndsWithTheBackendsGone(t *testing.T) {
	w, backendWatch, _ := watchWidgets(t, from("100"))
	backendWatch.Error(&metav1.Status{Status: metav1.StatusFailure, Code: http.StatusGone, Reason: metav1.StatusReasonExpired})
	if e := receive(t, w); e.Type != watch.Error || e.Object.(*metav1.Status).Code != http.StatusGone {
		t.Fatalf("got %v %+v", e.Type, e.Object)
	}
}

func TestWatchWithAProjectedFieldSelectorSendsWidgetsThatStartOrStopMatching(t *testing.T) {
	opts := from("100")
	opts.FieldSelector = fields.ParseSelectorOrDie("status.phase=Running")
	w, backendWatch, _ := watchWidgets(t, opts, widget("a", "90", phase, "Running"), widget("b", "91", phase, "Stopped"))
	backendWatch.Modify(widget("b", "101", phase, "Stopped", "k", "v")) // still not matching
	backendWatch.Modify(widget("a", "102", phase, "Stopped"))
	expect(t, w, watch.Deleted, "a")
	backendWatch.Modify(widget("b", "103", phase, "Running"))
	expect(t, w, watch.Added, "b")
	backendWatch.Modify(widget("b", "104", phase, "Running", "k", "v"))
	expect(t, w, watch.Modified, "b")
	backendWatch.Delete(widget("a", "105", phase, "Stopped")) // the client no longer has it
	backendWatch.Delete(widget("b", "106", phase, "Running"))
	expect(t, w, watch.Deleted, "b")
}

func TestWatchSkipsObjectsThatAreNotReadableWidgets(t *testing.T) {
	w, backendWatch, _ := watchWidgets(t, from("100"))
	backendWatch.Add(widget("a", "101", unreadable, "yes"))
	backendWatch.Add(widget("b", "102"))
	expect(t, w, watch.Added, "b")
}

func TestWatchEndsWith410WhenAnEventCannotBeRead(t *testing.T) {
	w, backendWatch, _ := watchWidgets(t, from("100"))
	backendWatch.Add(widget("a", "101", broken, "yes"))
	e := receive(t, w)
	if e.Type != watch.Error || e.Object.(*metav1.Status).Code != http.StatusGone {
		t.Fatalf("want a 410 that makes the client list again, got %v %+v", e.Type, e.Object)
	}
}

func TestWatchFromNowStartsAtTheListedResourceVersion(t *testing.T) {
	s, kube := newWidgetStore(t)
	listReturning(s, &corev1.ConfigMapList{ListMeta: metav1.ListMeta{ResourceVersion: "77"}})
	var started metav1.ListOptions
	kube.PrependWatchReactor("configmaps", func(a clienttesting.Action) (bool, watch.Interface, error) {
		started = a.(clienttesting.WatchActionImpl).ListOptions
		return true, watch.NewFake(), nil
	})
	w, err := s.Watch(inTenant(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if started.ResourceVersion != "77" || !started.AllowWatchBookmarks {
		t.Fatalf("want the backend watch from 77 with bookmarks (to resume from), got %+v", started)
	}
}

// The events of a burst wait, translated, for a client that reads slower
// than they come, as kube-apiserver's watches queue theirs: the generic
// server then flushes the response once per burst, not once per event.
func TestWatchQueuesTranslatedEventsForASlowClient(t *testing.T) {
	w, backendWatch, _ := watchWidgets(t, from("100"))
	const burst = 5
	for i := range burst {
		backendWatch.Add(widget(fmt.Sprintf("w%d", i), strconv.Itoa(101+i)))
	}
	queued := func(ctx context.Context) (bool, error) { return len(w.ResultChan()) == burst, nil }
	if err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 5*time.Second, true, queued); err != nil {
		t.Fatalf("%d of %d events queued for the client", len(w.ResultChan()), burst)
	}
	for i := range burst {
		expect(t, w, watch.Added, fmt.Sprintf("w%d", i))
	}
}
