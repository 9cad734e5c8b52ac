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

// Package vminstance serves VMInstances over KubeVirt VirtualMachines and
// the Services and Secrets that go with them.
package vminstance

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/apis/apps/validation"
	"github.com/cozystack/vm-apiserver/pkg/registry/backendstore"
)

// strategy is the create, update and delete behaviour of VMInstances. Rules
// that need cluster facts (the catalogue, attached disks) are checked by the
// storage before it writes.
type strategy struct {
	backendstore.BaseStrategy
}

func newStrategy(typer runtime.ObjectTyper) strategy {
	return strategy{backendstore.NewBaseStrategy(typer)}
}

// PrepareForCreate drops any status the client sent: it is read from the
// backend.
func (strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	obj.(*apps.VMInstance).Status = apps.VMInstanceStatus{}
}

// PrepareForUpdate keeps the status, which clients cannot write.
func (strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	obj.(*apps.VMInstance).Status = old.(*apps.VMInstance).Status
}

func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidateVMInstance(obj.(*apps.VMInstance))
}

func (strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateVMInstanceUpdate(obj.(*apps.VMInstance), old.(*apps.VMInstance))
}

func (strategy) WarningsOnCreate(_ context.Context, obj runtime.Object) []string {
	return validation.VMInstanceWarnings(obj.(*apps.VMInstance))
}

func (strategy) WarningsOnUpdate(_ context.Context, obj, _ runtime.Object) []string {
	return validation.VMInstanceWarnings(obj.(*apps.VMInstance))
}
