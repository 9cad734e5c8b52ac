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

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/cozystack/vm-apiserver/pkg/backend"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
)

// Strategy is the create, update and delete behaviour of a resource.
type Strategy interface {
	rest.RESTCreateStrategy
	rest.RESTUpdateStrategy
	rest.RESTDeleteStrategy
}

// Store serves one public resource over its primary backend kind.
type Store[B BackendObject, L runtime.Object] struct {
	// Adapter is the resource-specific part.
	Adapter Adapter[B, L]
	// PublicGroupResource names the public resource, for errors.
	PublicGroupResource schema.GroupResource
	// SingularName is the public resource's singular name.
	SingularName string
	// Kind is the public kind; backend objects carry it in backendnames.KindLabel.
	Kind string
	// BackendGVR is the primary backend resource, checked for before
	// every request; BackendProvider names what installs it.
	BackendGVR      schema.GroupVersionResource
	BackendProvider string
	// Availability tells whether BackendGVR is served.
	Availability *backend.Availability
	// Clients are the server's backend clients; their watch options apply
	// to the primary watch.
	Clients backend.Clients
	// FieldSet gives the fields a public object can be selected by.
	FieldSet func(runtime.Object) fields.Set
	// PublicField, if set, names the public field a backend field (as an
	// admission webhook's refusal names it) is written from.
	PublicField func(backendField string) string

	NewFunc     func() runtime.Object
	NewListFunc func() runtime.Object
	Strategy    Strategy
	rest.TableConvertor
	ShortNamesList []string
	CategoryList   []string
}

var (
	_ rest.StandardStorage      = &Store[BackendObject, runtime.Object]{}
	_ rest.Scoper               = &Store[BackendObject, runtime.Object]{}
	_ rest.SingularNameProvider = &Store[BackendObject, runtime.Object]{}
	_ rest.ShortNamesProvider   = &Store[BackendObject, runtime.Object]{}
	_ rest.CategoriesProvider   = &Store[BackendObject, runtime.Object]{}
)

// New returns an empty public object.
func (s *Store[B, L]) New() runtime.Object { return s.NewFunc() }

// NewList returns an empty public list.
func (s *Store[B, L]) NewList() runtime.Object { return s.NewListFunc() }

// Destroy releases nothing: the store holds no resources of its own.
func (s *Store[B, L]) Destroy() {}

// NamespaceScoped is true: every public kind is namespaced.
func (s *Store[B, L]) NamespaceScoped() bool { return true }

// GetSingularName returns the singular resource name.
func (s *Store[B, L]) GetSingularName() string { return s.SingularName }

// ShortNames returns the short names kubectl accepts.
func (s *Store[B, L]) ShortNames() []string { return s.ShortNamesList }

// Categories returns the categories the resource belongs to.
func (s *Store[B, L]) Categories() []string { return s.CategoryList }

func (s *Store[B, L]) requireBackend() error {
	return s.Availability.Require(s.BackendGVR, s.BackendProvider)
}

// getPrimary reads the primary backend object; one without the kind label
// is not a public object and reads as not found.
func (s *Store[B, L]) getPrimary(ctx context.Context, name string, opts metav1.GetOptions) (B, error) {
	var zero B
	primary, err := s.Adapter.Client(genericapirequest.NamespaceValue(ctx)).Get(ctx, name, opts)
	if err != nil {
		return zero, s.publicError(err, name)
	}
	if !backendnames.HasKind(primary.GetLabels(), s.Kind) {
		return zero, apierrors.NewNotFound(s.PublicGroupResource, name)
	}
	return primary, nil
}

func (s *Store[B, L]) toPublic(ctx context.Context, primary B) (runtime.Object, error) {
	obj, err := s.Adapter.ToPublic(ctx, primary)
	if err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("%s %s/%s cannot be read: %w", s.Kind, primary.GetNamespace(), primary.GetName(), err))
	}
	return obj, nil
}
