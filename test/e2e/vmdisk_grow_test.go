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

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	appsv1alpha1 "github.com/cozystack/vm-apiserver/pkg/apis/apps/v1alpha1"
)

// TestVMDiskGrowsByExpandingItsClaim checks how a VMDisk grows under the
// real CDI, which refuses any change to a DataVolume's spec: through the
// PersistentVolumeClaim cdi-controller made for it. While that claim is
// unbound (WaitForFirstConsumer, nothing provisions here) the grow is a
// 422 about spec.storage, as Kubernetes refuses to expand an unbound PVC;
// once bound, the claim's request grows, the DataVolume's spec stays as
// created, and the VMDisk reads back the grown size. A shrink stays a 422.
func TestVMDiskGrowsByExpandingItsClaim(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	if _, err := c.apps.AppsV1alpha1().VMDisks(ns).Create(ctx, newDisk("data", appsv1alpha1.VMDiskSpec{Storage: quantity("20Gi")}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	claim := diskClaim(t, c, ns, "data")

	grow := func(size string) error {
		return retry.RetryOnConflict(retry.DefaultRetry, func() error {
			disk, err := c.apps.AppsV1alpha1().VMDisks(ns).Get(ctx, "data", metav1.GetOptions{})
			if err != nil {
				return err
			}
			disk.Spec.Storage = quantity(size)
			_, err = c.apps.AppsV1alpha1().VMDisks(ns).Update(ctx, disk, metav1.UpdateOptions{})
			return err
		})
	}
	err := grow("40Gi")
	assertInvalid(t, err, "spec.storage")
	if !strings.Contains(err.Error(), "bound") {
		t.Errorf("the refusal does not say why: %v", err)
	}

	// Bind the claim as a CSI provisioner and the persistent volume
	// controller would: neither runs here (no node, no CSI driver, and
	// kube-controller-manager runs without its volume controllers), so no
	// running controller writes what the test writes.
	bindClaim(t, c, claim)

	if out := kubectl(t, "patch", "vmdisk", "data", "-n", ns, "--type", "merge", "-p", `{"spec":{"storage":"40Gi"}}`); !strings.Contains(out, "patched") {
		t.Fatal(out)
	}
	claim, err = c.kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := claim.Spec.Resources.Requests[corev1.ResourceStorage]; got.Cmp(*quantity("40Gi")) != 0 {
		t.Errorf("the claim requests %s, want 40Gi", got.String())
	}
	dv, err := c.cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, "data", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	assertStorage(t, dv.Spec.Storage.Resources.Requests, *dv.Spec.Storage.StorageClassName, "20Gi", "replicated")
	disk, err := c.apps.AppsV1alpha1().VMDisks(ns).Get(ctx, "data", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if disk.Spec.Storage.String() != "40Gi" {
		t.Errorf("the grown disk reads %s", disk.Spec.Storage)
	}
	for k := range disk.Annotations {
		if strings.HasPrefix(k, "vm.apps.cozystack.io/") {
			t.Errorf("a reserved annotation shows: %s", k)
		}
	}
	if out := kubectl(t, "get", "vmdisk", "data", "-n", ns); !strings.Contains(out, "40Gi") {
		t.Errorf("kubectl get does not show the grown size:\n%s", out)
	}
	assertInvalid(t, grow("30Gi"), "spec.storage")
}

// diskClaim waits for the claim cdi-controller makes for VMDisk disk.
func diskClaim(t *testing.T, c clients, ns, disk string) *corev1.PersistentVolumeClaim {
	t.Helper()
	var claim *corev1.PersistentVolumeClaim
	eventually(t, "cdi-controller to make the claim of VMDisk "+disk, func() (bool, string) {
		var err error
		claim, err = c.kube.CoreV1().PersistentVolumeClaims(ns).Get(context.Background(), disk, metav1.GetOptions{})
		return err == nil, fmt.Sprint(err)
	})
	return claim
}

// bindDiskClaim binds the claim of VMDisk disk (see bindClaim), so that
// the disk can grow.
func bindDiskClaim(t *testing.T, c clients, ns, disk string) {
	t.Helper()
	bindClaim(t, c, diskClaim(t, c, ns, disk))
}

// bindClaim binds claim to a new PersistentVolume of its size, as a
// provisioner and the persistent volume controller would.
func bindClaim(t *testing.T, c clients, claim *corev1.PersistentVolumeClaim) {
	t.Helper()
	ctx := context.Background()
	size := claim.Spec.Resources.Requests[corev1.ResourceStorage]
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pv-" + claim.Namespace + "-" + claim.Name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   claim.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			StorageClassName:              *claim.Spec.StorageClassName,
			VolumeMode:                    claim.Spec.VolumeMode,
			ClaimRef:                      &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: claim.Namespace, Name: claim.Name, UID: claim.UID},
			PersistentVolumeSource:        corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "linstor.csi.linbit.com", VolumeHandle: claim.Namespace + "-" + claim.Name}},
		},
	}
	if _, err := c.kube.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.kube.CoreV1().PersistentVolumes().Delete(context.Background(), pv.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Error(err)
		}
	})
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		latest, err := c.kube.CoreV1().PersistentVolumeClaims(claim.Namespace).Get(ctx, claim.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		latest.Spec.VolumeName = pv.Name
		if latest, err = c.kube.CoreV1().PersistentVolumeClaims(claim.Namespace).Update(ctx, latest, metav1.UpdateOptions{}); err != nil {
			return err
		}
		latest.Status.Phase = corev1.ClaimBound
		latest.Status.AccessModes = claim.Spec.AccessModes
		latest.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: size}
		_, err = c.kube.CoreV1().PersistentVolumeClaims(claim.Namespace).UpdateStatus(ctx, latest, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
