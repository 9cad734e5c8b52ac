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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// BackendObject is a primary backend object, such as *cdiv1.DataVolume.
type BackendObject interface {
	runtime.Object
	metav1.Object
}

// Client is the typed client of the primary backend kind in one namespace
// ("" for all namespaces); the generated clientsets' namespaced interfaces
// satisfy it.
type Client[B BackendObject, L runtime.Object] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (B, error)
	List(ctx context.Context, opts metav1.ListOptions) (L, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
}

// Adapter is what one public resource adds to the shared machinery: its
// backend client, the translation of a primary object to the public one, and
// the writes of the backend objects. Public objects are internal versions.
type Adapter[B BackendObject, L runtime.Object] interface {
	// Client is the primary backend client for namespace.
	Client(namespace string) Client[B, L]
	// Items are the objects of a backend list.
	Items(list L) []B
	// ToPublic projects a primary backend object.
	ToPublic(ctx context.Context, primary B) (runtime.Object, error)
	// ToPublicList projects the primaries of one list or watch in
	// namespace ("" for all), reading what they join in once for all of
	// them. An object that does not project is nil in the result.
	ToPublicList(ctx context.Context, namespace string, primaries []B) ([]runtime.Object, error)
	// CheckDelete refuses deleting a primary object still in use (409).
	CheckDelete(ctx context.Context, primary B) error
	// Create writes the backend objects of a validated new public object
	// and returns the primary one. opts.DryRun must reach every write.
	Create(ctx context.Context, obj runtime.Object, opts *metav1.CreateOptions) (B, error)
	// Update writes the backend objects of a validated public object over
	// the current primary object and returns the new primary one.
	Update(ctx context.Context, obj runtime.Object, current B, opts *metav1.UpdateOptions) (B, error)
}

// DryRunProjector is an Adapter whose public objects hold more than the
// primary object. A dry-run write stores nothing, so reading the other
// objects back would show the live ones rather than those the write would
// make; ProjectDryRun projects the primary object a dry run returned with
// the objects written (the validated public object) would make.
type DryRunProjector[B BackendObject] interface {
	ProjectDryRun(ctx context.Context, primary B, written runtime.Object) (runtime.Object, error)
}

// DeleteFollower is an Adapter with work to do once kube-apiserver has
// accepted the deletion of a primary object (not for a dry run): options
// are the backend delete options.
type DeleteFollower[B BackendObject] interface {
	AfterDelete(ctx context.Context, deleted B, options metav1.DeleteOptions)
}

// WriteTracker is an Adapter whose writes take several backend writes and
// mark the primary object meanwhile: a watch does not show the states in
// between, only the complete one the write's last step makes.
type WriteTracker[B BackendObject] interface {
	WriteInProgress(primary B) bool
}

// CachedLister is an Adapter that holds the primary objects in memory and
// can answer a consistent list from them, as kube-apiserver answers one
// from its watch cache: ListCached returns the primary objects opts selects
// in namespace ("" for all) and the list's resourceVersion, or false when
// it cannot show that its copies are those of a consistent read now; the
// store then lists live.
type CachedLister[B BackendObject] interface {
	ListCached(ctx context.Context, namespace string, opts metav1.ListOptions) ([]B, string, bool, error)
}

// errNotProjectable marks an object that is not a readable public object (as
// opposed to one whose backend objects could not be read): lists and watches
// leave it out rather than fail.
var errNotProjectable = errors.New("not a readable public object")

// NotProjectable marks err as the projection's refusal of an object.
func NotProjectable(err error) error {
	return fmt.Errorf("%w: %w", errNotProjectable, err)
}

// Pointers returns pointers to the items of a list, as Adapter.Items
// returns them.
func Pointers[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}
