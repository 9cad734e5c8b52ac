package projected

import (
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
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
