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

package vmdisk

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"
	clienttesting "k8s.io/client-go/testing"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
	"github.com/cozystack/vm-apiserver/pkg/projection"
)

func claimOf(name string, phase corev1.PersistentVolumeClaimPhase) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: name},
		Spec:       corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
		Status:     corev1.PersistentVolumeClaimStatus{Phase: phase},
	}
}

// withClaim gives the disk "data" a claim in phase; the fake clientset writes
// dry runs, so they are answered without writing, as kube-apiserver does.
func (d *disks) withClaim(t *testing.T, phase corev1.PersistentVolumeClaimPhase) {
	t.Helper()
	if _, err := d.kube.CoreV1().PersistentVolumeClaims(tenant).Create(context.Background(), claimOf("data", phase), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dryRun := func(a clienttesting.Action) (bool, runtime.Object, error) {
		u := a.(clienttesting.UpdateActionImpl)
		return len(u.UpdateOptions.DryRun) > 0, u.Object, nil
	}
	d.kube.PrependReactor("update", "persistentvolumeclaims", dryRun)
	d.cdi.PrependReactor("update", "datavolumes", dryRun)
}

// grow updates the VMDisk "data" to size.
func (d *disks) grow(t *testing.T, size string, dryRun ...string) (*apps.VMDisk, error) {
	t.Helper()
	current, err := d.store.Get(asAlice(), "data", &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	disk := current.(*apps.VMDisk).DeepCopy()
	q := resource.MustParse(size)
	disk.Spec.Storage = &q
	out, _, err := d.store.Update(asAlice(), "data", rest.DefaultUpdatedObjectInfo(disk), nil, nil, false, &metav1.UpdateOptions{DryRun: dryRun})
	if err != nil {
		return nil, err
	}
	return out.(*apps.VMDisk), nil
}

func (d *disks) claimSize(t *testing.T) string {
	t.Helper()
	c, err := d.kube.CoreV1().PersistentVolumeClaims(tenant).Get(context.Background(), "data", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c.Spec.Resources.Requests.Storage().String()
}

// TestGrowExpandsTheClaim checks that growing a VMDisk expands its bound
// claim and leaves the DataVolume's spec as created, and that the disk
// reads back at the grown size; a dry run changes nothing.
func TestGrowExpandsTheClaim(t *testing.T) {
	d := newDisks(t, []runtime.Object{dataVolume("data", backendnames.InUseProtectionFinalizer)})
	d.withClaim(t, corev1.ClaimBound)
	if out, err := d.grow(t, "3Gi", metav1.DryRunAll); err != nil || out.Spec.Storage.String() != "3Gi" || d.claimSize(t) != "1Gi" {
		t.Fatalf("dry run: %v %v, claim %s", out, err, d.claimSize(t))
	}
	out, err := d.grow(t, "3Gi")
	if err != nil {
		t.Fatal(err)
	}
	if out.Spec.Storage.String() != "3Gi" || d.claimSize(t) != "3Gi" {
		t.Fatalf("disk %s, claim %s", out.Spec.Storage, d.claimSize(t))
	}
	dv, err := d.cdi.CdiV1beta1().DataVolumes(tenant).Get(context.Background(), "data", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := dv.Spec.Storage.Resources.Requests.Storage().String(); got != "1Gi" {
		t.Errorf("the DataVolume's request changed to %s", got)
	}
}

// TestGrowBeforeTheClaimIsBound checks the refusals: a claim CDI has not
// made yet is a 409 (it will come), an unbound one a 422 about
// spec.storage (Kubernetes expands only bound claims); neither writes.
func TestGrowBeforeTheClaimIsBound(t *testing.T) {
	d := newDisks(t, []runtime.Object{dataVolume("data", backendnames.InUseProtectionFinalizer)})
	if _, err := d.grow(t, "3Gi"); !apierrors.IsConflict(err) {
		t.Fatalf("no claim yet: want 409, got %v", err)
	}
	d.withClaim(t, corev1.ClaimPending)
	_, err := d.grow(t, "3Gi")
	var status apierrors.APIStatus
	if !apierrors.IsInvalid(err) || !errors.As(err, &status) || len(status.Status().Details.Causes) != 1 || status.Status().Details.Causes[0].Field != "spec.storage" {
		t.Fatalf("unbound claim: want 422 about spec.storage, got %v", err)
	}
	for _, a := range append(d.cdi.Actions(), d.kube.Actions()...) {
		if u, ok := a.(clienttesting.UpdateActionImpl); ok {
			t.Errorf("a refused grow wrote %s", u.Resource.Resource)
		}
	}
}

// TestGrowTakesBackTheRecordWhenTheClaimIsRefused checks that a claim
// kube-apiserver refuses to expand (its storage class does not allow it)
// is a 422 about spec.storage and the disk keeps its size.
func TestGrowTakesBackTheRecordWhenTheClaimIsRefused(t *testing.T) {
	d := newDisks(t, []runtime.Object{dataVolume("data", backendnames.InUseProtectionFinalizer)})
	d.withClaim(t, corev1.ClaimBound)
	d.kube.PrependReactor("update", "persistentvolumeclaims", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if len(a.(clienttesting.UpdateActionImpl).UpdateOptions.DryRun) > 0 {
			return false, nil, nil
		}
		return true, nil, apierrors.NewForbidden(corev1.Resource("persistentvolumeclaims"), "data", errors.New("only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize"))
	})
	if _, err := d.grow(t, "3Gi"); !apierrors.IsInvalid(err) {
		t.Fatalf("want 422, got %v", err)
	}
	dv, err := d.cdi.CdiV1beta1().DataVolumes(tenant).Get(context.Background(), "data", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := projection.DiskStorage(dv).String(); got != "1Gi" {
		t.Errorf("the refused grow left the disk at %s", got)
	}
}
