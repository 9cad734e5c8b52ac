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
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/registry/rest"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/cozystack/vm-apiserver/pkg/backendnames"
)

func updateTo(obj runtime.Object) rest.UpdatedObjectInfo {
	return rest.DefaultUpdatedObjectInfo(obj)
}

// public is a widget as a client writes it.
func public(name, rv string, data ...string) *corev1.ConfigMap {
	cm := widget(name, rv, data...)
	cm.Labels, cm.UID = nil, ""
	return cm
}

// writes are the backend actions of verb on ConfigMaps.
func writes(kube *kubefake.Clientset, verb string) []clienttesting.Action {
	var out []clienttesting.Action
	for _, a := range kube.Actions() {
		if a.GetVerb() == verb && a.GetResource() == configMaps {
			out = append(out, a)
		}
	}
	return out
}

func TestCreateWritesTheKindLabelAndAnswersTheProjection(t *testing.T) {
	s, kube := newWidgetStore(t)
	obj, err := s.Create(inTenant(), public("a", "", "k", "v"), nil, &metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm := obj.(*corev1.ConfigMap); cm.Data["k"] != "v" || cm.Labels[backendnames.KindLabel] != "" {
		t.Fatalf("answered %+v", cm)
	}
	stored, err := kube.CoreV1().ConfigMaps(tenant).Get(context.Background(), "a", metav1.GetOptions{})
	if err != nil || stored.Labels[backendnames.KindLabel] != widgetKind {
		t.Fatalf("stored %+v, %v", stored, err)
	}
}

func TestCreateGeneratesTheNameFromGenerateName(t *testing.T) {
	s, _ := newWidgetStore(t)
	in := public("", "")
	in.GenerateName = "w-"
	obj, err := s.Create(inTenant(), in, nil, &metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if name := obj.(*corev1.ConfigMap).Name; len(name) <= len("w-") || name[:2] != "w-" {
		t.Fatalf("got name %q", name)
	}
}

func TestCreateThatFailsValidationWritesNothing(t *testing.T) {
	s, kube := newWidgetStore(t)
	_, err := s.Create(inTenant(), public("a", "", invalid, "yes"), nil, &metav1.CreateOptions{})
	assertStatus(t, err, 422, "")
	refused := errors.New("admission says no")
	_, err = s.Create(inTenant(), public("b", ""), func(context.Context, runtime.Object) error { return refused }, &metav1.CreateOptions{})
	if err != refused {
		t.Fatalf("want the create validation's error, got %v", err)
	}
	if w := writes(kube, "create"); len(w) != 0 {
		t.Fatalf("nothing may be written, got %v", w)
	}
}

func TestCreateOfATakenNameIsAlreadyExistsForThePublicResource(t *testing.T) {
	s, _ := newWidgetStore(t, widget("a", "5"))
	_, err := s.Create(inTenant(), public("a", ""), nil, &metav1.CreateOptions{})
	if st := assertStatus(t, err, 409, widgets.Group); st.Reason != metav1.StatusReasonAlreadyExists {
		t.Fatalf("got %+v", st)
	}
}

func TestCreateRefusedByTheBackendAsInvalidIsAPublic422(t *testing.T) {
	s, kube := newWidgetStore(t)
	failing(kube, "create", apierrors.NewInvalid(schema.GroupKind{Kind: "ConfigMap"}, "a", nil))
	_, err := s.Create(inTenant(), public("a", ""), nil, &metav1.CreateOptions{})
	if st := assertStatus(t, err, 422, widgets.Group); st.Details.Kind != widgetKind {
		t.Fatalf("got %+v", st.Details)
	}
}

func TestDryRunCreateAnswersWhatTheWriteWouldStore(t *testing.T) {
	s, kube := newWidgetStore(t)
	obj, err := s.Create(inTenant(), public("a", ""), nil, &metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatal(err)
	}
	if obj.(*corev1.ConfigMap).Annotations[dryRunShown] == "" {
		t.Fatal("a dry run must be answered by ProjectDryRun")
	}
	for _, a := range writes(kube, "create") {
		if opts := a.(clienttesting.CreateActionImpl).CreateOptions; len(opts.DryRun) == 0 {
			t.Fatalf("the backend write must be a dry run: %+v", opts)
		}
	}
}

func TestUpdateWithStaleResourceVersionIsAConflict(t *testing.T) {
	s, kube := newWidgetStore(t, widget("a", "5"))
	_, _, err := s.Update(inTenant(), "a", updateTo(public("a", "4", "k", "v")), nil, nil, false, &metav1.UpdateOptions{})
	if st := assertStatus(t, err, 409, widgets.Group); st.Reason != metav1.StatusReasonConflict {
		t.Fatalf("got %+v", st)
	}
	if w := writes(kube, "update"); len(w) != 0 {
		t.Fatalf("nothing may be written, got %v", w)
	}
}

func TestUpdateChecksThePublicResourceVersionAndWritesUnderThePrimaryOne(t *testing.T) {
	// The widget's resourceVersion is a joined object's (9); its
	// ConfigMap's is 5.
	s, kube := newWidgetStore(t, widget("a", "5", publicRV, "9"))
	_, _, err := s.Update(inTenant(), "a", updateTo(public("a", "5", publicRV, "9")), nil, nil, false, &metav1.UpdateOptions{})
	assertStatus(t, err, 409, widgets.Group)
	if _, _, err := s.Update(inTenant(), "a", updateTo(public("a", "9", publicRV, "9", "k", "v")), nil, nil, false, &metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	w := writes(kube, "update")
	if len(w) != 1 || w[0].(clienttesting.UpdateActionImpl).Object.(*corev1.ConfigMap).ResourceVersion != "5" {
		t.Fatalf("want one write under the ConfigMap's resourceVersion 5, got %v", w)
	}
}

func TestUpdateWithoutResourceVersionAppliesToTheCurrentObject(t *testing.T) {
	s, kube := newWidgetStore(t, widget("a", "5"))
	obj, created, err := s.Update(inTenant(), "a", updateTo(public("a", "", "k", "v")), nil, nil, false, &metav1.UpdateOptions{})
	if err != nil || created || obj.(*corev1.ConfigMap).Data["k"] != "v" {
		t.Fatalf("got %+v created=%v: %v", obj, created, err)
	}
	if w := writes(kube, "update"); w[0].(clienttesting.UpdateActionImpl).Object.(*corev1.ConfigMap).ResourceVersion != "5" {
		t.Fatal("the write must carry the resourceVersion read")
	}
}

func TestUpdateThatFailsValidationWritesNothing(t *testing.T) {
	s, kube := newWidgetStore(t, widget("a", "5"))
	_, _, err := s.Update(inTenant(), "a", updateTo(public("a", "", invalid, "yes")), nil, nil, false, &metav1.UpdateOptions{})
	assertStatus(t, err, 422, "")
	if w := writes(kube, "update"); len(w) != 0 {
		t.Fatalf("nothing may be written, got %v", w)
	}
}

func TestUpdateOfAMissingObjectIsNotFoundWithoutCreateOnUpdate(t *testing.T) {
	s, kube := newWidgetStore(t)
	_, _, err := s.Update(inTenant(), "a", updateTo(public("a", "")), nil, nil, false, &metav1.UpdateOptions{})
	assertStatus(t, err, 404, widgets.Group)
	if w := writes(kube, "create"); len(w) != 0 {
		t.Fatalf("nothing may be created, got %v", w)
	}
}

func TestUpdateCreatesTheObjectWhenCreateOnUpdateIsForced(t *testing.T) {
	s, kube := newWidgetStore(t)
	dryRun := []string{metav1.DryRunAll}
	_, created, err := s.Update(inTenant(), "a", updateTo(public("a", "3")), nil, nil, true, &metav1.UpdateOptions{DryRun: dryRun, FieldManager: "kubectl"})
	if err != nil || !created {
		t.Fatalf("created=%v: %v", created, err)
	}
	w := writes(kube, "create")
	if len(w) != 1 {
		t.Fatalf("want one create, got %v", w)
	}
	a := w[0].(clienttesting.CreateActionImpl)
	if a.Object.(*corev1.ConfigMap).ResourceVersion != "" || len(a.CreateOptions.DryRun) == 0 {
		t.Fatalf("the create must drop the resourceVersion and keep dry-run: %+v", a)
	}
}

func TestCreateOnUpdateRefusesANameOtherThanTheURLs(t *testing.T) {
	s, _ := newWidgetStore(t)
	_, _, err := s.Update(inTenant(), "a", updateTo(public("b", "")), nil, nil, true, &metav1.UpdateOptions{})
	assertStatus(t, err, 400, "")
}

func TestUpdateRefusedByTheBackendAsAConflictSpeaksOfThePublicResource(t *testing.T) {
	s, kube := newWidgetStore(t, widget("a", "5"))
	failing(kube, "update", apierrors.NewConflict(configMaps.GroupResource(), "a", errors.New("the object has been modified")))
	_, _, err := s.Update(inTenant(), "a", updateTo(public("a", "")), nil, nil, false, &metav1.UpdateOptions{})
	assertStatus(t, err, 409, widgets.Group)
}

func deleteOptions(kube *kubefake.Clientset) []metav1.DeleteOptions {
	var out []metav1.DeleteOptions
	for _, a := range writes(kube, "delete") {
		out = append(out, a.(clienttesting.DeleteActionImpl).DeleteOptions)
	}
	return out
}

func TestDeleteIsPreconditionedOnTheUIDOfTheObjectValidated(t *testing.T) {
	s, kube := newWidgetStore(t, widget("a", "5"))
	obj, deleted, err := s.Delete(inTenant(), "a", nil, &metav1.DeleteOptions{})
	if err != nil || !deleted || obj.(*corev1.ConfigMap).Name != "a" {
		t.Fatalf("got %+v deleted=%v: %v", obj, deleted, err)
	}
	opts := deleteOptions(kube)
	if len(opts) != 1 || opts[0].Preconditions == nil || *opts[0].Preconditions.UID != "uid-a" || opts[0].Preconditions.ResourceVersion != nil {
		t.Fatalf("want a delete preconditioned on uid-a alone, got %+v", opts)
	}
}

func TestDeleteWithAnotherUIDPreconditionIsAConflict(t *testing.T) {
	s, kube := newWidgetStore(t, widget("a", "5"))
	other := types.UID("uid-other")
	_, _, err := s.Delete(inTenant(), "a", nil, &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &other}})
	assertStatus(t, err, 409, "")
	if opts := deleteOptions(kube); len(opts) != 0 {
		t.Fatalf("nothing may be deleted, got %+v", opts)
	}
}

func TestDeletePreconditionOnThePublicResourceVersionBecomesThePrimarys(t *testing.T) {
	s, kube := newWidgetStore(t, widget("a", "5", publicRV, "9"))
	stale := "5"
	_, _, err := s.Delete(inTenant(), "a", nil, &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &stale}})
	assertStatus(t, err, 409, "")
	current := "9"
	if _, _, err := s.Delete(inTenant(), "a", nil, &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &current}}); err != nil {
		t.Fatal(err)
	}
	opts := deleteOptions(kube)
	if len(opts) != 1 || *opts[0].Preconditions.ResourceVersion != "5" || *opts[0].Preconditions.UID != "uid-a" {
		t.Fatalf("want one delete preconditioned on uid-a at 5, got %+v", opts)
	}
}

func TestDeleteRefusedByTheResourceDeletesNothing(t *testing.T) {
	s, kube := newWidgetStore(t, widget("a", "5", inUse, "yes"))
	_, _, err := s.Delete(inTenant(), "a", nil, &metav1.DeleteOptions{})
	assertStatus(t, err, 409, widgets.Group)
	if opts := deleteOptions(kube); len(opts) != 0 {
		t.Fatalf("nothing may be deleted, got %+v", opts)
	}
}

func TestDeleteOfAnObjectKeptByFinalizersAnswersItStillThere(t *testing.T) {
	s, kube := newWidgetStore(t, widget("a", "5"))
	kube.PrependReactor("delete", "configmaps", func(clienttesting.Action) (bool, runtime.Object, error) {
		kept := widget("a", "6")
		now := metav1.Now()
		kept.DeletionTimestamp, kept.Finalizers = &now, []string{"example.com/keep"}
		return true, nil, kube.Tracker().Update(configMaps, kept, tenant)
	})
	obj, deleted, err := s.Delete(inTenant(), "a", nil, &metav1.DeleteOptions{})
	if err != nil || deleted || obj.(*corev1.ConfigMap).DeletionTimestamp == nil {
		t.Fatalf("want the terminating widget, not deleted, got %+v deleted=%v: %v", obj, deleted, err)
	}
}

func TestDryRunDeleteAnswersTheObjectWithoutReadingItBack(t *testing.T) {
	s, kube := newWidgetStore(t, widget("a", "5"))
	kube.PrependReactor("delete", "configmaps", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, nil // a dry run leaves it
	})
	_, deleted, err := s.Delete(inTenant(), "a", nil, &metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil || !deleted {
		t.Fatalf("deleted=%v: %v", deleted, err)
	}
	if opts := deleteOptions(kube); len(opts[0].DryRun) == 0 {
		t.Fatal("the backend delete must be a dry run")
	}
	if n := len(writes(kube, "get")); n != 1 {
		t.Fatalf("want the one read before the delete, got %d", n)
	}
}

func TestDeleteCollectionDeletesEveryListedObjectWithoutTheCallersPreconditions(t *testing.T) {
	s, kube := newWidgetStore(t, widget("a", "5"), widget("b", "6"), widget("c", "7"))
	kube.PrependReactor("delete", "configmaps", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.(clienttesting.DeleteActionImpl).Name == "b" {
			return true, nil, apierrors.NewNotFound(configMaps.GroupResource(), "b") // gone meanwhile
		}
		return false, nil, nil
	})
	other := types.UID("uid-other")
	out, err := s.DeleteCollection(inTenant(), nil, &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &other}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, cm := range out.(*corev1.ConfigMapList).Items {
		names = append(names, cm.Name)
	}
	if len(names) != 2 || names[0] != "a" || names[1] != "c" {
		t.Fatalf("want a and c deleted, b skipped, got %v", names)
	}
}
