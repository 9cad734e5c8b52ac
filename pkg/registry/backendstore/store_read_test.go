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
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	fakediscovery "k8s.io/client-go/discovery/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cozystack/vm-apiserver/pkg/backendnames"
)

func TestGetReadsThePrimaryObjectWithoutReservedKeys(t *testing.T) {
	s, _ := newWidgetStore(t, widget("a", "5", "k", "v"))
	obj, err := s.Get(inTenant(), "a", &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm := obj.(*corev1.ConfigMap)
	if cm.Data["k"] != "v" || cm.ResourceVersion != "5" || len(cm.Labels) != 0 {
		t.Fatalf("got %+v", cm)
	}
}

func TestGetOfABackendObjectWithoutTheKindLabelIsNotFound(t *testing.T) {
	foreign := widget("a", "5")
	foreign.Labels = nil
	s, _ := newWidgetStore(t, foreign)
	_, err := s.Get(inTenant(), "a", &metav1.GetOptions{})
	st := assertStatus(t, err, 404, widgets.Group)
	if st.Details.Kind != widgets.Resource || st.Details.Name != "a" {
		t.Fatalf("want a 404 for widgets/a, got %+v", st.Details)
	}
}

func TestGetOfAMissingObjectIsNotFoundForThePublicResource(t *testing.T) {
	s, _ := newWidgetStore(t)
	_, err := s.Get(inTenant(), "a", &metav1.GetOptions{})
	if st := assertStatus(t, err, 404, widgets.Group); st.Details.Kind != widgets.Resource {
		t.Fatalf("want a 404 for widgets, got %+v", st.Details)
	}
}

func TestGetOfAnObjectWhoseProjectionFailsIsAnInternalError(t *testing.T) {
	s, _ := newWidgetStore(t, widget("a", "5", broken, "yes"))
	_, err := s.Get(inTenant(), "a", &metav1.GetOptions{})
	assertStatus(t, err, 500, "")
}

func TestEveryVerbIsA503WhileTheBackendResourceIsNotServed(t *testing.T) {
	s, kube := newWidgetStore(t, widget("a", "5"))
	kube.Discovery().(*fakediscovery.FakeDiscovery).Resources = nil
	ctx := inTenant()
	_, getErr := s.Get(ctx, "a", &metav1.GetOptions{})
	_, listErr := s.List(ctx, nil)
	_, watchErr := s.Watch(ctx, nil)
	_, createErr := s.Create(ctx, widget("b", ""), nil, &metav1.CreateOptions{})
	_, _, updateErr := s.Update(ctx, "a", updateTo(widget("a", "")), nil, nil, false, &metav1.UpdateOptions{})
	_, _, deleteErr := s.Delete(ctx, "a", nil, &metav1.DeleteOptions{})
	_, collectionErr := s.DeleteCollection(ctx, nil, &metav1.DeleteOptions{}, nil)
	for verb, err := range map[string]error{"get": getErr, "list": listErr, "watch": watchErr, "create": createErr, "update": updateErr, "delete": deleteErr, "deletecollection": collectionErr} {
		if !apierrors.IsServiceUnavailable(err) || !strings.Contains(err.Error(), "configmaps (Kubernetes) is not installed") {
			t.Errorf("%s: want a 503 naming the backend, got %v", verb, err)
		}
	}
	for _, a := range kube.Actions() {
		if a.GetResource() == configMaps {
			t.Fatalf("nothing may reach the backend, got %v", a)
		}
	}
}

func TestABackendResourceThatWentAwayIsA503AndLookedUpAgain(t *testing.T) {
	s, kube := newWidgetStore(t, widget("a", "5"))
	gone := apierrors.NewGenericServerResponse(404, "get", configMaps.GroupResource(), "", "404 page not found", 0, true)
	failing(kube, "get", gone)
	_, err := s.Get(inTenant(), "a", &metav1.GetOptions{})
	if !apierrors.IsServiceUnavailable(err) || !strings.Contains(err.Error(), "not served right now") {
		t.Fatalf("discovery still lists it: want a 503, got %v", err)
	}
	kube.Discovery().(*fakediscovery.FakeDiscovery).Resources = nil
	_, err = s.Get(inTenant(), "a", &metav1.GetOptions{})
	if !apierrors.IsServiceUnavailable(err) || !strings.Contains(err.Error(), "not installed") {
		t.Fatalf("the 404 must make the store look the resource up again: %v", err)
	}
}

func TestBackendErrorsSpeakOfThePublicResource(t *testing.T) {
	s, _ := newWidgetStore(t)
	configMapKind := schema.GroupKind{Kind: "ConfigMap"}
	own := apierrors.NewConflict(widgets, "a", errors.New("vm-apiserver's own"))
	plain := errors.New("connection reset")
	forbidden := apierrors.NewForbidden(configMaps.GroupResource(), "a", errors.New("no"))
	cases := map[string]struct {
		in     error
		code   int32
		reason metav1.StatusReason
		same   bool
		says   string
	}{
		"already exists": {in: apierrors.NewAlreadyExists(configMaps.GroupResource(), "a"), code: 409, reason: metav1.StatusReasonAlreadyExists},
		"conflict": {in: apierrors.NewConflict(configMaps.GroupResource(), "a", errors.New("the object has been modified")), code: 409,
			reason: metav1.StatusReasonConflict, says: `widgets.apps.cozystack.io "a": the object has been modified`},
		"invalid": {in: apierrors.NewInvalid(configMapKind, "a", nil), code: 422, reason: metav1.StatusReasonInvalid,
			says: `Widget "a" is invalid: the backend configmaps rejected it`},
		"vm-apiserver's own error": {in: own, same: true},
		"not a Status":             {in: plain, same: true},
		"any other Status":         {in: forbidden, same: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := s.publicError(tc.in, "a")
			if tc.same {
				if err != tc.in {
					t.Fatalf("want the error unchanged, got %v", err)
				}
				return
			}
			st := assertStatus(t, err, tc.code, widgets.Group)
			if st.Reason != tc.reason || !strings.Contains(st.Message, tc.says) {
				t.Fatalf("got %s: %s", st.Reason, st.Message)
			}
		})
	}
}

// listReturning makes the backend list answer list and records its options.
func listReturning(s *widgetStore, list *corev1.ConfigMapList) *metav1.ListOptions {
	seen := &metav1.ListOptions{}
	s.Adapter.(*widgetAdapter).kube.PrependReactor("list", "configmaps", func(a clienttesting.Action) (bool, runtime.Object, error) {
		*seen = a.(clienttesting.ListActionImpl).ListOptions
		return true, list.DeepCopy(), nil
	})
	return seen
}

func TestListPassesSelectorsAndPagingThroughAndFiltersProjectedFields(t *testing.T) {
	s, _ := newWidgetStore(t)
	list := &corev1.ConfigMapList{
		ListMeta: metav1.ListMeta{ResourceVersion: "42", Continue: "next"},
		Items: []corev1.ConfigMap{
			*widget("a", "5", phase, "Running"),
			*widget("b", "6", phase, "Stopped"),
			*widget("c", "7", phase, "Running", unreadable, "yes"),
		},
	}
	remaining := int64(3)
	list.RemainingItemCount = &remaining
	for i := range list.Items {
		list.Items[i].Labels["app"] = "web"
	}
	seen := listReturning(s, list)
	out, err := s.List(inTenant(), &metainternalversion.ListOptions{
		LabelSelector: labels.SelectorFromSet(labels.Set{"app": "web"}),
		FieldSelector: fields.ParseSelectorOrDie("metadata.name!=z,status.phase=Running"),
		Limit:         3, Continue: "this",
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen.LabelSelector != "app=web,"+backendnames.KindLabel+"="+widgetKind || seen.FieldSelector != "metadata.name!=z" || seen.Limit != 3 || seen.Continue != "this" {
		t.Fatalf("the backend was asked %+v", seen)
	}
	got := out.(*corev1.ConfigMapList)
	if len(got.Items) != 1 || got.Items[0].Name != "a" {
		t.Fatalf("want only the running, readable widget a, got %+v", got.Items)
	}
	if got.ResourceVersion != "42" || got.Continue != "next" || got.RemainingItemCount == nil || *got.RemainingItemCount != 3 {
		t.Fatalf("the list metadata must be the backend's, got %+v", got.ListMeta)
	}
}

func TestListFailureOfTheBackendSpeaksOfThePublicResource(t *testing.T) {
	s, kube := newWidgetStore(t)
	failing(kube, "list", apierrors.NewConflict(configMaps.GroupResource(), "", errors.New("try again")))
	_, err := s.List(context.Background(), nil)
	assertStatus(t, err, 409, widgets.Group)
}

// pagedWidgets makes the fake serve n widgets in pages as kube-apiserver
// does: opts.Limit at a time, from the offset the continue token names,
// all at resourceVersion 42. It returns the options of every request.
func pagedWidgets(s *widgetStore, n int) *[]metav1.ListOptions {
	var seen []metav1.ListOptions
	s.Adapter.(*widgetAdapter).kube.PrependReactor("list", "configmaps", func(a clienttesting.Action) (bool, runtime.Object, error) {
		opts := a.(clienttesting.ListActionImpl).ListOptions
		seen = append(seen, opts)
		from, _ := strconv.Atoi(opts.Continue)
		to := min(from+int(opts.Limit), n)
		page := &corev1.ConfigMapList{ListMeta: metav1.ListMeta{ResourceVersion: "42"}}
		for i := from; i < to; i++ {
			page.Items = append(page.Items, *widget(fmt.Sprintf("w%04d", i), strconv.Itoa(i+1)))
		}
		if to < n {
			remaining := int64(n - to)
			page.Continue, page.RemainingItemCount = strconv.Itoa(to), &remaining
		}
		return true, page, nil
	})
	return &seen
}

func TestListOfAllReadsTheBackendInChunksOfOneSnapshot(t *testing.T) {
	s, _ := newWidgetStore(t)
	seen := pagedWidgets(s, 1234)
	out, err := s.List(inTenant(), &metainternalversion.ListOptions{ResourceVersion: "17", ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan})
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*corev1.ConfigMapList)
	if len(got.Items) != 1234 || got.Items[0].Name != "w0000" || got.Items[1233].Name != "w1233" {
		t.Fatalf("want the 1234 widgets in order, got %d", len(got.Items))
	}
	if got.ResourceVersion != "42" || got.Continue != "" || got.RemainingItemCount != nil {
		t.Fatalf("want the snapshot's resourceVersion and no continue, got %+v", got.ListMeta)
	}
	want := []metav1.ListOptions{
		{ResourceVersion: "17", ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan, Limit: listChunk},
		{Continue: "500", Limit: listChunk},
		{Continue: "1000", Limit: listChunk},
	}
	for i := range want {
		want[i].LabelSelector = backendnames.KindLabel + "=" + widgetKind
	}
	if diff := cmp.Diff(want, *seen); diff != "" {
		t.Fatalf("the backend was asked (-want +got):\n%s", diff)
	}
}

func TestListReadsTheNextChunkWhileItProjectsThisOne(t *testing.T) {
	s, kube := newWidgetStore(t)
	pagedWidgets(s, 1234)
	secondAsked := make(chan struct{})
	kube.PrependReactor("list", "configmaps", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.(clienttesting.ListActionImpl).ListOptions.Continue == "500" {
			close(secondAsked)
		}
		return false, nil, nil
	})
	projections := 0
	s.Adapter.(*widgetAdapter).projectingList = func() {
		projections++
		if projections > 1 {
			return
		}
		select {
		case <-secondAsked:
		case <-time.After(wait.ForeverTestTimeout):
			t.Error("the second chunk was not asked for while the first was projected")
		}
	}
	out, err := s.List(inTenant(), &metainternalversion.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.(*corev1.ConfigMapList); len(got.Items) != 1234 || projections != 3 {
		t.Fatalf("want 1234 widgets projected in 3 chunks, got %d in %d", len(got.Items), projections)
	}
}

func TestListWithALimitAboveTheChunkReadsUpToTheLimit(t *testing.T) {
	s, _ := newWidgetStore(t)
	seen := pagedWidgets(s, 1234)
	out, err := s.List(inTenant(), &metainternalversion.ListOptions{Limit: 700})
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*corev1.ConfigMapList)
	if len(got.Items) != 700 || got.Items[699].Name != "w0699" {
		t.Fatalf("want the first 700 widgets, got %d", len(got.Items))
	}
	if got.Continue != "700" || got.RemainingItemCount == nil || *got.RemainingItemCount != 534 {
		t.Fatalf("want the continue token after the 700th widget, got %+v", got.ListMeta)
	}
	if len(*seen) != 2 || (*seen)[0].Limit != listChunk || (*seen)[1].Limit != 200 {
		t.Fatalf("want a chunk and then the rest of the limit, the backend was asked %+v", *seen)
	}
}

func TestListOfAllStartsOverWhenItsSnapshotExpiresBetweenChunks(t *testing.T) {
	s, kube := newWidgetStore(t)
	seen := pagedWidgets(s, 1234)
	expireOnce := true
	kube.PrependReactor("list", "configmaps", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.(clienttesting.ListActionImpl).ListOptions.Continue == "" || !expireOnce {
			return false, nil, nil
		}
		expireOnce = false
		return true, nil, apierrors.NewResourceExpired("The provided continue parameter is too old")
	})
	out, err := s.List(inTenant(), &metainternalversion.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.(*corev1.ConfigMapList); len(got.Items) != 1234 || got.Continue != "" {
		t.Fatalf("want all 1234 widgets from the second snapshot, got %d (continue %q)", len(got.Items), got.Continue)
	}
	if len(*seen) != 4 || (*seen)[1].Continue != "" {
		t.Fatalf("want the first chunk, then a new pass of three, the backend was asked %+v", *seen)
	}
}

func TestListPagedByTheClientAnswersAnExpiredContinueWith410(t *testing.T) {
	s, kube := newWidgetStore(t)
	failing(kube, "list", apierrors.NewResourceExpired("The provided continue parameter is too old"))
	_, err := s.List(inTenant(), &metainternalversion.ListOptions{Limit: 500, Continue: "500"})
	assertStatus(t, err, 410, "")
}
