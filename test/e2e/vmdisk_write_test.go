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
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	appsv1alpha1 "github.com/cozystack/vm-apiserver/pkg/apis/apps/v1alpha1"
)

func newDisk(name string, spec appsv1alpha1.VMDiskSpec) *appsv1alpha1.VMDisk {
	return &appsv1alpha1.VMDisk{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
}

func quantity(s string) *resource.Quantity {
	q := resource.MustParse(s)
	return &q
}

// assertInvalid checks that err is a 422 naming field.
func assertInvalid(t *testing.T, err error, field string) {
	t.Helper()
	if !apierrors.IsInvalid(err) {
		t.Fatalf("want 422 Invalid on %s, got %v", field, err)
	}
	for _, cause := range err.(apierrors.APIStatus).Status().Details.Causes {
		if cause.Field == field {
			return
		}
	}
	t.Fatalf("422 does not name %s: %v", field, err)
}

// TestInvalidVMDiskCreates checks that each invalid disk is refused with a
// 422 naming the field and leaves no DataVolume.
func TestInvalidVMDiskCreates(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	cases := []struct {
		name  string
		spec  appsv1alpha1.VMDiskSpec
		field string
	}{
		{"two-sources", appsv1alpha1.VMDiskSpec{Source: appsv1alpha1.VMDiskSource{
			HTTP:     &appsv1alpha1.HTTPDiskSource{URL: "https://example.com/a.img"},
			Registry: &appsv1alpha1.RegistryDiskSource{URL: "docker://quay.io/kubevirt/cirros-container-disk-demo"},
		}}, "spec.source"},
		{"ftp-url", appsv1alpha1.VMDiskSpec{Source: appsv1alpha1.VMDiskSource{
			HTTP: &appsv1alpha1.HTTPDiskSource{URL: "ftp://example.com/a.img"},
		}}, "spec.source.http.url"},
		{"malformed-checksum", appsv1alpha1.VMDiskSpec{Source: appsv1alpha1.VMDiskSource{
			HTTP: &appsv1alpha1.HTTPDiskSource{URL: "https://example.com/a.img", Checksum: "sha256:abc123"},
		}}, "spec.source.http.checksum"},
		{"unknown-checksum-algorithm", appsv1alpha1.VMDiskSpec{Source: appsv1alpha1.VMDiskSource{
			HTTP: &appsv1alpha1.HTTPDiskSource{URL: "https://example.com/a.img", Checksum: "crc32:deadbeef"},
		}}, "spec.source.http.checksum"},
		{"bad-header", appsv1alpha1.VMDiskSpec{Source: appsv1alpha1.VMDiskSource{
			HTTP: &appsv1alpha1.HTTPDiskSource{URL: "https://example.com/a.img", Headers: map[string]string{"Bad Header": "x"}},
		}}, "spec.source.http.headers[Bad Header]"},
		{"registry-without-docker", appsv1alpha1.VMDiskSpec{Source: appsv1alpha1.VMDiskSource{
			Registry: &appsv1alpha1.RegistryDiskSource{URL: "quay.io/kubevirt/cirros"},
		}}, "spec.source.registry.url"},
		{"pvc-without-name", appsv1alpha1.VMDiskSpec{Source: appsv1alpha1.VMDiskSource{
			PVC: &appsv1alpha1.PVCDiskSource{},
		}}, "spec.source.pvc.name"},
		{"negative-size", appsv1alpha1.VMDiskSpec{Storage: quantity("-1Gi")}, "spec.storage"},
		{"zero-size", appsv1alpha1.VMDiskSpec{Storage: quantity("0")}, "spec.storage"},
		{"bad-storage-class", appsv1alpha1.VMDiskSpec{StorageClass: "Not_A_Class"}, "spec.storageClass"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.apps.AppsV1alpha1().VMDisks(ns).Create(ctx, newDisk(tc.name, tc.spec), metav1.CreateOptions{})
			assertInvalid(t, err, tc.field)
			if _, err := c.cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, tc.name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Fatalf("a DataVolume was left behind: %v", err)
			}
		})
	}

	t.Run("reserved-label", func(t *testing.T) {
		disk := newDisk("reserved", appsv1alpha1.VMDiskSpec{})
		disk.Labels = map[string]string{"vm.apps.cozystack.io/kind": "VMInstance"}
		_, err := c.apps.AppsV1alpha1().VMDisks(ns).Create(ctx, disk, metav1.CreateOptions{})
		assertInvalid(t, err, "metadata.labels[vm.apps.cozystack.io/kind]")
	})

	t.Run("kubectl-shows-field", func(t *testing.T) {
		out, err := env.Kubectl(ctx, `apiVersion: apps.cozystack.io/v1alpha1
kind: VMDisk
metadata:
  name: ftp
spec:
  source:
    http:
      url: ftp://example.com/a.img
`, "apply", "-n", ns, "-f", "-")
		if err == nil || !strings.Contains(out, `spec.source.http.url: Invalid value: "ftp://example.com/a.img": scheme must be http or https`) {
			t.Fatalf("kubectl apply of an ftp:// disk: %v\n%s", err, out)
		}
	})
}

// TestInvalidVMDiskUpdates checks that shrinking a disk or changing its
// storage class or source is a 422 and leaves the DataVolume as it was.
func TestInvalidVMDiskUpdates(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	disk, err := c.apps.AppsV1alpha1().VMDisks(ns).Create(ctx, newDisk("data", appsv1alpha1.VMDiskSpec{Storage: quantity("20Gi")}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		change func(*appsv1alpha1.VMDisk)
		field  string
	}{
		{"shrink", func(d *appsv1alpha1.VMDisk) { d.Spec.Storage = quantity("10Gi") }, "spec.storage"},
		{"storage-class", func(d *appsv1alpha1.VMDisk) { d.Spec.StorageClass = "local" }, "spec.storageClass"},
		{"source", func(d *appsv1alpha1.VMDisk) {
			d.Spec.Source.HTTP = &appsv1alpha1.HTTPDiskSource{URL: "https://example.com/a.img"}
		}, "spec.source"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// cdi-controller writes the DataVolume's status meanwhile (a
			// new resourceVersion): read the disk again on a 409.
			var err error
			eventually(t, "an update that does not conflict", func() (bool, string) {
				current, getErr := c.apps.AppsV1alpha1().VMDisks(ns).Get(ctx, "data", metav1.GetOptions{})
				if getErr != nil {
					return false, getErr.Error()
				}
				changed := current.DeepCopy()
				tc.change(changed)
				_, err = c.apps.AppsV1alpha1().VMDisks(ns).Update(ctx, changed, metav1.UpdateOptions{})
				return !apierrors.IsConflict(err), fmt.Sprint(err)
			})
			assertInvalid(t, err, tc.field)
			dv, err := c.cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, "data", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if dv.Generation != disk.Generation {
				t.Fatalf("the DataVolume changed: generation %d, was %d", dv.Generation, disk.Generation)
			}
		})
	}
}

// TestVMDiskDefaults checks the contract's defaults on an empty spec.
func TestVMDiskDefaults(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	kubectlStdin(t, "apiVersion: apps.cozystack.io/v1alpha1\nkind: VMDisk\nmetadata:\n  name: blank\n", "create", "-n", ns, "-f", "-")
	disk, err := c.apps.AppsV1alpha1().VMDisks(ns).Get(context.Background(), "blank", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if disk.Spec.Storage.String() != "5Gi" || disk.Spec.StorageClass != "replicated" || disk.Spec.Optical ||
		disk.Spec.Source != (appsv1alpha1.VMDiskSource{}) {
		t.Fatalf("defaults: %+v", disk.Spec)
	}
	dv, err := c.cdi.CdiV1beta1().DataVolumes(ns).Get(context.Background(), "blank", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if dv.Spec.Source.Blank == nil {
		t.Fatalf("an empty source should make a blank DataVolume: %+v", dv.Spec.Source)
	}

	t.Run("clone-source-namespace", func(t *testing.T) {
		clone, err := c.apps.AppsV1alpha1().VMDisks(ns).Create(context.Background(), newDisk("clone", appsv1alpha1.VMDiskSpec{
			Source: appsv1alpha1.VMDiskSource{PVC: &appsv1alpha1.PVCDiskSource{Name: "golden"}},
		}), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if clone.Spec.Source.PVC.Namespace != ns {
			t.Fatalf("pvc namespace defaults to the disk's: got %q", clone.Spec.Source.PVC.Namespace)
		}
	})
}

// TestVMDiskStaleUpdateConflicts checks optimistic concurrency: an update
// carrying an old resourceVersion gets 409 and does not overwrite.
func TestVMDiskStaleUpdateConflicts(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	disks := c.apps.AppsV1alpha1().VMDisks(ns)
	stale, err := disks.Create(ctx, newDisk("contended", appsv1alpha1.VMDiskSpec{}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The first writer re-reads on a conflict, as a client does:
	// cdi-controller writes the DataVolume's status meanwhile. The second
	// writes over what it read at creation, stale once the first wrote.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		first, err := disks.Get(ctx, "contended", metav1.GetOptions{})
		if err != nil {
			return err
		}
		first.Labels = map[string]string{"writer": "first"}
		_, err = disks.Update(ctx, first, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	second := stale.DeepCopy()
	second.Labels = map[string]string{"writer": "second"}
	_, err = disks.Update(ctx, second, metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) {
		t.Fatalf("want 409 Conflict, got %v", err)
	}
	if !strings.Contains(err.Error(), `vmdisks.apps.cozystack.io "contended"`) {
		t.Errorf("the conflict should name the VMDisk: %v", err)
	}
	got, err := disks.Get(ctx, "contended", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Labels["writer"] != "first" {
		t.Fatalf("the stale update overwrote the first: %v", got.Labels)
	}

	t.Run("backend-change-makes-client-stale", func(t *testing.T) {
		dv, err := c.cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, "contended", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		dv.Annotations = map[string]string{"touched": "by-backend"}
		if _, err := c.cdi.CdiV1beta1().DataVolumes(ns).Update(ctx, dv, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		got.Labels["writer"] = "late"
		if _, err := disks.Update(ctx, got, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
			t.Fatalf("want 409 after a direct backend write, got %v", err)
		}
	})
}

// TestVMDiskDryRun checks that dryRun=All creates, changes and deletes
// nothing.
func TestVMDiskDryRun(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	iso := strings.Replace(readFile(t, example("windows-iso.yaml")), "namespace: default", "namespace: "+ns, 1)
	out := kubectlStdin(t, iso, "apply", "--dry-run=server", "-f", "-")
	if !strings.Contains(out, "(server dry run)") {
		t.Fatal(out)
	}
	if _, err := c.cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, "windows-server-2022-iso", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("dry-run create left a DataVolume: %v", err)
	}

	disks := c.apps.AppsV1alpha1().VMDisks(ns)
	if _, err := disks.Create(ctx, newDisk("real", appsv1alpha1.VMDiskSpec{}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A disk grows once its claim is bound (TestVMDiskGrowsByExpandingItsClaim).
	bindDiskClaim(t, c, ns, "real")
	before, err := c.cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, "real", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var dryGrown *appsv1alpha1.VMDisk
	// cdi-controller writes the DataVolume's status meanwhile: re-read on a
	// conflict, as a client does.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		grown, err := disks.Get(ctx, "real", metav1.GetOptions{})
		if err != nil {
			return err
		}
		grown.Spec.Storage = quantity("50Gi")
		dryGrown, err = disks.Update(ctx, grown, metav1.UpdateOptions{DryRun: []string{metav1.DryRunAll}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if dryGrown.Spec.Storage.String() != "50Gi" {
		t.Errorf("the dry-run update should answer with the would-be object: %s", dryGrown.Spec.Storage)
	}
	if err := disks.Delete(ctx, "real", metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatal(err)
	}
	dv, err := c.cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, "real", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("dry-run delete removed the DataVolume: %v", err)
	}
	// What vm-apiserver writes, not the resourceVersion cdi-controller's
	// status writes also move.
	own := func(annotations map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range annotations {
			if strings.HasPrefix(k, "vm.apps.cozystack.io/") {
				out[k] = v
			}
		}
		return out
	}
	if dv.Generation != before.Generation || !equality.Semantic.DeepEqual(own(dv.Annotations), own(before.Annotations)) || dv.DeletionTimestamp != nil {
		t.Fatalf("dry runs changed the DataVolume:\nbefore %+v\nafter  %+v", before.ObjectMeta, dv.ObjectMeta)
	}
	claim, err := c.kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "real", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := claim.Spec.Resources.Requests[corev1.ResourceStorage]; got.Cmp(resource.MustParse("5Gi")) != 0 {
		t.Fatalf("the dry-run grow expanded the claim to %s", got.String())
	}
}

// TestVMDiskDelete checks delete, its preconditions and the public
// not-found error.
func TestVMDiskDelete(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	disks := c.apps.AppsV1alpha1().VMDisks(ns)
	if _, err := disks.Create(ctx, newDisk("doomed", appsv1alpha1.VMDiskSpec{}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wrongUID := types.UID("00000000-0000-0000-0000-000000000000")
	err := disks.Delete(ctx, "doomed", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &wrongUID}})
	if !apierrors.IsConflict(err) {
		t.Fatalf("a uid precondition that does not match should be 409, got %v", err)
	}
	out := kubectl(t, "delete", "vmdisk", "doomed", "-n", ns)
	if !strings.Contains(out, `vmdisk.apps.cozystack.io "doomed" deleted`) {
		t.Fatal(out)
	}
	if _, err := c.cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, "doomed", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the DataVolume survived: %v", err)
	}
	_, err = disks.Get(ctx, "doomed", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) || err.Error() != `vmdisks.apps.cozystack.io "doomed" not found` {
		t.Fatalf("want the public not-found error, got %v", err)
	}
	if _, err := env.Kubectl(ctx, "", "delete", "vmdisk", "doomed", "-n", ns); err == nil ||
		!strings.Contains(err.Error(), `vmdisks.apps.cozystack.io "doomed" not found`) {
		t.Fatalf("deleting a missing disk: %v", err)
	}
}
