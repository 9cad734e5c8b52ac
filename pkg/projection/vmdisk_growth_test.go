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

package projection

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
)

func dataVolumeOf(t *testing.T, size string) *cdiv1.DataVolume {
	t.Helper()
	q := resource.MustParse(size)
	dv, err := DataVolumeFor(&apps.VMDisk{ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: "ns"}, Spec: apps.VMDiskSpec{Storage: &q, StorageClass: "replicated"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return dv
}

func withSize(t *testing.T, dv *cdiv1.DataVolume, size string) *cdiv1.DataVolume {
	t.Helper()
	disk, err := VMDiskFrom(dv)
	if err != nil {
		t.Fatal(err)
	}
	q := resource.MustParse(size)
	disk.Spec.Storage = &q
	out, err := DataVolumeFor(disk, dv)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDiskStorageIsTheLargerRequest checks that a VMDisk shows the larger of
// its DataVolume's request and the size its claim was grown to, and that
// going back to the created size drops the record.
func TestDiskStorageIsTheLargerRequest(t *testing.T) {
	dv := dataVolumeOf(t, "10Gi")
	if Grows(dv, withSize(t, dv, "10Gi")) {
		t.Error("the same size grows")
	}
	grown := withSize(t, dv, "20Gi")
	if got := DiskStorage(grown).String(); got != "20Gi" || !Grows(dv, grown) {
		t.Fatalf("grown to %s", got)
	}
	again := withSize(t, grown, "30Gi")
	if !Grows(grown, again) || DiskStorage(again).String() != "30Gi" {
		t.Fatalf("grown again to %s", DiskStorage(again))
	}
	if Grows(again, withSize(t, again, "30Gi")) {
		t.Error("restating the grown size grows")
	}
	back := withSize(t, grown, "10Gi")
	if _, ok := back.Annotations[backendnames.GrownStorageAnnotation]; ok || DiskStorage(back).String() != "10Gi" {
		t.Errorf("the created size kept the record: %v", back.Annotations)
	}
	// A record below the request (the DataVolume was made larger by hand)
	// does not shrink the disk.
	dv.Annotations = map[string]string{backendnames.GrownStorageAnnotation: "1Gi"}
	if got := DiskStorage(dv).String(); got != "10Gi" {
		t.Errorf("a smaller record read as %s", got)
	}
}

func claim(phase corev1.PersistentVolumeClaimPhase, size string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: "ns"},
		Spec:       corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}}},
		Status:     corev1.PersistentVolumeClaimStatus{Phase: phase},
	}
}

// TestGrownClaim checks that a bound claim grows to the disk's size, one
// that already has it is left alone, and an unbound one is refused with the
// reason, as Kubernetes refuses to expand an unbound PVC.
func TestGrownClaim(t *testing.T) {
	bound := claim(corev1.ClaimBound, "10Gi")
	grown, err := GrownClaim(bound, resource.MustParse("20Gi"))
	if err != nil || grown == nil {
		t.Fatalf("%v %v", grown, err)
	}
	if got := grown.Spec.Resources.Requests.Storage().String(); got != "20Gi" || bound.Spec.Resources.Requests.Storage().String() != "10Gi" {
		t.Errorf("grown to %s, input changed: %v", got, bound.Spec.Resources.Requests)
	}
	if same, err := GrownClaim(bound, resource.MustParse("10Gi")); same != nil || err != nil {
		t.Errorf("a claim at the size: %v %v", same, err)
	}
	_, err = GrownClaim(claim("", "10Gi"), resource.MustParse("20Gi"))
	var refused *GrowthRefused
	if !errors.As(err, &refused) || refused.Reason == "" {
		t.Fatalf("an unbound claim: %v", err)
	}
}

func TestClaimName(t *testing.T) {
	dv := dataVolumeOf(t, "1Gi")
	if ClaimName(dv) != "d" {
		t.Error(ClaimName(dv))
	}
	dv.Status.ClaimName = "other"
	if ClaimName(dv) != "other" {
		t.Error(ClaimName(dv))
	}
}
