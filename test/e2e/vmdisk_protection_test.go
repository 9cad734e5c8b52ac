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
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	appsv1alpha1 "github.com/cozystack/vm-apiserver/pkg/apis/apps/v1alpha1"
)

// inUseProtection is the finalizer that keeps a VMDisk in use.
const inUseProtection = "vm.apps.cozystack.io/in-use-protection"

// protectionManifests are a VMDisk and a VMInstance attaching it, as a
// Helm chart or a kustomization would hold them.
const (
	protectedDiskManifest = `apiVersion: apps.cozystack.io/v1alpha1
kind: VMDisk
metadata:
  name: data
spec:
  storage: 1Gi
`
	protectedInstanceManifest = `apiVersion: apps.cozystack.io/v1alpha1
kind: VMInstance
metadata:
  name: web
spec:
  external: true
  externalPorts:
    - port: 22
  cloudInit: |
    #cloud-config
    hostname: web
  disks:
    - name: data
`
)

// TestVMDiskProtection deletes a VMInstance and the VMDisk it attaches in
// every order, and at once as helm uninstall and kubectl delete -f do:
// every delete is accepted, a VMDisk still attached stays Terminating and
// says why, and in the end no public or backend object is left.
func TestVMDiskProtection(t *testing.T) {
	c := newClients(t)

	t.Run("disk-first", func(t *testing.T) {
		ns := newNamespace(t, c)
		applyProtected(t, ns)
		deleteDisk(t, c, ns)
		assertProtected(t, c, ns)
		kubectl(t, "delete", "vminstance", "web", "-n", ns, "--timeout=60s")
		assertNothingLeft(t, c, ns)
	})

	t.Run("instance-first", func(t *testing.T) {
		ns := newNamespace(t, c)
		applyProtected(t, ns)
		kubectl(t, "delete", "vminstance", "web", "-n", ns, "--timeout=60s")
		kubectl(t, "delete", "vmdisk", "data", "-n", ns, "--timeout=60s")
		assertNothingLeft(t, c, ns)
	})

	// kubectl delete -f sends every delete before it waits for any object
	// to go: the disk's delete while the VMInstance still attaches it
	// (disk listed first) and after (listed last).
	for _, order := range []struct{ name, manifest string }{
		{"at-once-disk-listed-first", protectedDiskManifest + "---\n" + protectedInstanceManifest},
		{"at-once-instance-listed-first", protectedInstanceManifest + "---\n" + protectedDiskManifest},
	} {
		t.Run(order.name, func(t *testing.T) {
			ns := newNamespace(t, c)
			applyProtected(t, ns)
			out := kubectlStdin(t, order.manifest, "delete", "-n", ns, "-f", "-", "--timeout=60s")
			for _, want := range []string{`vmdisk.apps.cozystack.io "data" deleted`, `vminstance.apps.cozystack.io "web" deleted`} {
				if !strings.Contains(out, want) {
					t.Errorf("kubectl delete -f: %q missing:\n%s", want, out)
				}
			}
			assertNothingLeft(t, c, ns)
		})
	}

	t.Run("detaching-releases", func(t *testing.T) {
		ns := newNamespace(t, c)
		applyProtected(t, ns)
		deleteDisk(t, c, ns)
		assertProtected(t, c, ns)
		// A change that keeps the disk attached keeps it.
		if _, err := c.apps.AppsV1alpha1().VMInstances(ns).Patch(context.Background(), "web", types.MergePatchType,
			[]byte(`{"spec":{"running":false}}`), metav1.PatchOptions{}); err != nil {
			t.Fatalf("changing a VMInstance that attaches a deleted disk: %v", err)
		}
		assertProtected(t, c, ns)
		if _, err := c.apps.AppsV1alpha1().VMInstances(ns).Patch(context.Background(), "web", types.JSONPatchType,
			[]byte(`[{"op":"remove","path":"/spec/disks/0"}]`), metav1.PatchOptions{}); err != nil {
			t.Fatalf("detaching the disk: %v", err)
		}
		eventually(t, "the detached disk to go", func() (bool, string) {
			return diskGone(t, c, ns)
		})
		inst, err := c.apps.AppsV1alpha1().VMInstances(ns).Get(context.Background(), "web", metav1.GetOptions{})
		if err != nil || len(inst.Spec.Disks) != 0 {
			t.Fatalf("the VMInstance should stay, without the disk: %v %+v", err, inst)
		}
	})
}

// TestVMDiskProtectionRefusesAttaching checks that a deleted VMDisk cannot
// be attached anew: it only waits for the VMInstances that have it.
func TestVMDiskProtectionRefusesAttaching(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	applyProtected(t, ns)
	deleteDisk(t, c, ns)
	spec := appsv1alpha1.VMInstanceSpec{Disks: []appsv1alpha1.VMInstanceDisk{{Name: "data"}}}
	_, err := c.apps.AppsV1alpha1().VMInstances(ns).Create(ctx, newInstance("late", spec), metav1.CreateOptions{})
	assertInvalid(t, err, "spec.disks[0].name")
	if !strings.Contains(err.Error(), "being deleted") {
		t.Fatalf("the refusal should say the disk is being deleted: %v", err)
	}
	if _, err := c.apps.AppsV1alpha1().VMInstances(ns).Create(ctx, newInstance("plain", appsv1alpha1.VMInstanceSpec{}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = c.apps.AppsV1alpha1().VMInstances(ns).Patch(ctx, "plain", types.MergePatchType, []byte(`{"spec":{"disks":[{"name":"data"}]}}`), metav1.PatchOptions{})
	assertInvalid(t, err, "spec.disks[0].name")
	assertProtected(t, c, ns)
}

func applyProtected(t *testing.T, ns string) {
	t.Helper()
	kubectlStdin(t, protectedDiskManifest+"---\n"+protectedInstanceManifest, "apply", "-n", ns, "-f", "-")
}

// deleteDisk deletes the attached VMDisk: accepted, not refused.
func deleteDisk(t *testing.T, c clients, ns string) {
	t.Helper()
	if err := c.apps.AppsV1alpha1().VMDisks(ns).Delete(context.Background(), "data", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting an attached VMDisk should be accepted: %v", err)
	}
}

// assertProtected checks that the deleted VMDisk is Terminating with its
// reason, naming the VMInstance that attaches it, and its DataVolume stays.
func assertProtected(t *testing.T, c clients, ns string) {
	t.Helper()
	ctx := context.Background()
	dv, err := c.cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, "data", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the DataVolume of a VMDisk in use went: %v", err)
	}
	if dv.DeletionTimestamp == nil || !slices.Contains(dv.Finalizers, inUseProtection) {
		t.Fatalf("the DataVolume should be deleted and protected: %v %v", dv.DeletionTimestamp, dv.Finalizers)
	}
	disk, err := c.apps.AppsV1alpha1().VMDisks(ns).Get(ctx, "data", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the VMDisk in use went: %v", err)
	}
	if disk.DeletionTimestamp == nil || !slices.Contains(disk.Finalizers, inUseProtection) {
		t.Fatalf("the VMDisk should show it is Terminating and why: %v %v", disk.DeletionTimestamp, disk.Finalizers)
	}
	out := kubectl(t, "get", "vmdisk", "data", "-n", ns, "-o", `jsonpath={.status.conditions[?(@.type=="Terminating")].reason}: {.status.conditions[?(@.type=="Terminating")].message}`)
	if !strings.HasPrefix(out, "InUse: ") || !strings.Contains(out, "VMInstance web") {
		t.Fatalf("the Terminating condition should name the VMInstance: %q", out)
	}
	if described := kubectl(t, "describe", "vmdisk", "data", "-n", ns); !strings.Contains(described, inUseProtection) || !strings.Contains(described, "still attached to VMInstance web") {
		t.Fatalf("kubectl describe should show the finalizer and the reason:\n%s", described)
	}
}

func diskGone(t *testing.T, c clients, ns string) (bool, string) {
	t.Helper()
	ctx := context.Background()
	_, err := c.apps.AppsV1alpha1().VMDisks(ns).Get(ctx, "data", metav1.GetOptions{})
	_, dvErr := c.cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, "data", metav1.GetOptions{})
	return apierrors.IsNotFound(err) && apierrors.IsNotFound(dvErr), fmt.Sprintf("VMDisk: %v, DataVolume: %v", errString(err), errString(dvErr))
}

// assertNothingLeft waits until neither public nor backend objects are
// left in ns.
func assertNothingLeft(t *testing.T, c clients, ns string) {
	t.Helper()
	ctx := context.Background()
	kv := kubevirtClient(t)
	eventually(t, "nothing to be left", func() (bool, string) {
		var left []string
		count := func(kind string, n int) {
			if n > 0 {
				left = append(left, fmt.Sprintf("%d %s", n, kind))
			}
		}
		disks, err := c.apps.AppsV1alpha1().VMDisks(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		count("VMDisks", len(disks.Items))
		instances, err := c.apps.AppsV1alpha1().VMInstances(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		count("VMInstances", len(instances.Items))
		dvs, err := c.cdi.CdiV1beta1().DataVolumes(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		count("DataVolumes", len(dvs.Items))
		vms, err := kv.KubevirtV1().VirtualMachines(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		count("VirtualMachines", len(vms.Items))
		services, err := c.kube.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		count("Services", len(services.Items))
		secrets, err := c.kube.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		count("Secrets", len(secrets.Items))
		return len(left) == 0, "left: " + strings.Join(left, ", ")
	})
}
