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

// Package vmdisk serves VMDisks over CDI DataVolumes.
package vmdisk

import (
	"context"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/apis/apps/validation"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
	"github.com/cozystack/vm-apiserver/pkg/projection"
	"github.com/cozystack/vm-apiserver/pkg/registry/backendstore"
)

// strategy is the create, update and delete behaviour of VMDisks.
type strategy struct {
	backendstore.BaseStrategy
}

func newStrategy(typer runtime.ObjectTyper) strategy {
	return strategy{backendstore.NewBaseStrategy(typer)}
}

// PrepareForCreate drops any status the client sent (status comes from the
// DataVolume), defaults clone sources to the disk's namespace and adds the
// in-use protection finalizer.
func (strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	disk := obj.(*apps.VMDisk)
	disk.Status = apps.VMDiskStatus{}
	disk.Finalizers = projection.WithFinalizer(disk.Finalizers, backendnames.InUseProtectionFinalizer, true)
	defaultSourceNamespace(disk)
	redactLastApplied(disk)
}

// PrepareForUpdate keeps the status, which clients cannot write, and applies
// the create-time defaults so that an update restating the spec without
// them is no change.
func (strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	disk := obj.(*apps.VMDisk)
	disk.Status = old.(*apps.VMDisk).Status
	keepInUseProtection(disk, old.(*apps.VMDisk))
	defaultSourceNamespace(disk)
	keepStoredCredentials(disk, old.(*apps.VMDisk))
	redactLastApplied(disk)
	keepManagedFieldsOfNoChange(disk, old.(*apps.VMDisk))
}

// keepManagedFieldsOfNoChange keeps the old managedFields when the update,
// once stored credentials are kept, changes nothing but their timestamps.
// The apiserver's handler does the same (its managedFields timestamp
// transformer), but it compares before PrepareForUpdate, when a re-applied
// manifest still differs in the credentials it restates; without this, a
// kubectl apply of an unchanged manifest with credentials would still
// rewrite the DataVolume.
func keepManagedFieldsOfNoChange(disk, old *apps.VMDisk) {
	a, b := disk.DeepCopy(), old.DeepCopy()
	for _, d := range []*apps.VMDisk{a, b} {
		for i := range d.ManagedFields {
			d.ManagedFields[i].Time = nil
		}
	}
	if apiequality.Semantic.DeepEqual(a, b) {
		disk.ManagedFields = old.ManagedFields
	}
}

// keepInUseProtection leaves the in-use protection finalizer to
// vm-apiserver: an update neither removes it nor, from a disk being deleted
// (which may get no new finalizers), adds it; a disk made before the
// finalizer existed gets it with its first update.
func keepInUseProtection(disk, old *apps.VMDisk) {
	want := old.DeletionTimestamp == nil || projection.HasFinalizer(old.Finalizers, backendnames.InUseProtectionFinalizer)
	disk.Finalizers = projection.WithFinalizer(disk.Finalizers, backendnames.InUseProtectionFinalizer, want)
}

func defaultSourceNamespace(disk *apps.VMDisk) {
	if pvc := disk.Spec.Source.PVC; pvc != nil && pvc.Namespace == "" {
		pvc.Namespace = disk.Namespace
	}
	if snapshot := disk.Spec.Source.Snapshot; snapshot != nil && snapshot.Namespace == "" {
		snapshot.Namespace = disk.Namespace
	}
}

func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidateVMDisk(obj.(*apps.VMDisk))
}

func (strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateVMDiskUpdate(obj.(*apps.VMDisk), old.(*apps.VMDisk))
}

func (strategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

func (strategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}
