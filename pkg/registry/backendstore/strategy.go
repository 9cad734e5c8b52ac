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

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/storage/names"
)

// BaseStrategy is what every resource's strategy shares: namespaced, names
// generated the usual way, no create on update, unconditional updates
// allowed (as for built-in resources), nothing to canonicalize.
type BaseStrategy struct {
	runtime.ObjectTyper
	names.NameGenerator
}

// NewBaseStrategy returns the shared strategy for typer's types.
func NewBaseStrategy(typer runtime.ObjectTyper) BaseStrategy {
	return BaseStrategy{typer, names.SimpleNameGenerator}
}

// NamespaceScoped is true for every public kind.
func (BaseStrategy) NamespaceScoped() bool { return true }

// AllowCreateOnUpdate is false: a PUT does not create (server-side apply
// still does, through forceAllowCreate).
func (BaseStrategy) AllowCreateOnUpdate(context.Context) bool { return false }

// AllowUnconditionalUpdate is true: an update without a resourceVersion
// applies to the current object.
func (BaseStrategy) AllowUnconditionalUpdate(context.Context) bool { return true }

// Canonicalize does nothing.
func (BaseStrategy) Canonicalize(runtime.Object) {}
