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
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// A 404 about another kind's object during a write (here the namespace,
// as kube-apiserver answers a create in a namespace that does not exist)
// names that object, not a public object of its name
// (`widgets.apps.cozystack.io "tenant" not found` for a create of "a").
func TestANotFoundOfAnotherKindIsNotReportedAsAPublicObjectOfItsName(t *testing.T) {
	s, kube := newWidgetStore(t)
	failing(kube, "create", apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, tenant))
	_, err := s.Create(inTenant(), public("a", ""), nil, &metav1.CreateOptions{})
	st := assertStatus(t, err, 404, "")
	if st.Details.Group == widgets.Group && st.Details.Name == tenant {
		t.Fatalf("the missing namespace is reported as a missing widget: %v", err)
	}
}

// A backend refusal (an admission webhook's 422) names the public fields
// the backend fields it cites are written from, and keeps the backend's
// words; one without details still names the public object.
func TestABackendRefusalNamesThePublicFields(t *testing.T) {
	s, kube := newWidgetStore(t)
	s.PublicField = func(backendField string) string { return "spec.size" }
	refusal := apierrors.NewInvalid(schema.GroupKind{Kind: "ConfigMap"}, "a", field.ErrorList{
		field.Invalid(field.NewPath("data", "size"), "9", "too large for the node"),
	})
	failing(kube, "create", refusal)
	_, err := s.Create(inTenant(), public("a", ""), nil, &metav1.CreateOptions{})
	st := assertStatus(t, err, 422, widgets.Group)
	if len(st.Details.Causes) != 1 || st.Details.Causes[0].Field != "spec.size" ||
		!strings.Contains(st.Details.Causes[0].Message, "too large for the node") || st.Details.Kind != widgetKind {
		t.Fatalf("want the cause on spec.size with the backend's words, got %+v", st.Details)
	}

	s, kube = newWidgetStore(t)
	s.PublicField = func(string) string { return "spec" }
	failing(kube, "create", &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: 422, Reason: metav1.StatusReasonInvalid, Message: "denied by webhook",
	}})
	_, err = s.Create(inTenant(), public("a", ""), nil, &metav1.CreateOptions{})
	st = assertStatus(t, err, 422, widgets.Group)
	if st.Details.Name != "a" || !strings.Contains(st.Message, "denied by webhook") {
		t.Fatalf("want a 422 naming widget a with the webhook's words, got %+v", st)
	}
}
