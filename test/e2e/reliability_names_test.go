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
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	appsv1alpha1 "github.com/cozystack/vm-apiserver/pkg/apis/apps/v1alpha1"
)

// TestDataVolumeNamesClash refuses, with a 409 and nothing written, every
// object whose DataVolume another one has or will have: an inline disk over
// a VMDisk and the reverse, and two VMInstances whose names and disk names
// join to the same DataVolume name.
func TestDataVolumeNamesClash(t *testing.T) {
	c := newClients(t)
	ctx := context.Background()
	inline := func(name, disk string) *appsv1alpha1.VMInstance {
		return newInstance(name, appsv1alpha1.VMInstanceSpec{Disks: []appsv1alpha1.VMInstanceDisk{{Name: disk, Size: quantity("1Gi")}}})
	}
	t.Run("inline-disk-over-vmdisk", func(t *testing.T) {
		ns := newNamespace(t, c)
		if _, err := c.apps.AppsV1alpha1().VMDisks(ns).Create(ctx, newDisk("web-root", appsv1alpha1.VMDiskSpec{}), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		_, err := c.apps.AppsV1alpha1().VMInstances(ns).Create(ctx, inline("web", "root"), metav1.CreateOptions{})
		assertConflict(t, err, "web-root")
		assertNoBackendObjects(t, c, ns, "web")
	})
	t.Run("vmdisk-over-inline-disk", func(t *testing.T) {
		ns := newNamespace(t, c)
		if _, err := c.apps.AppsV1alpha1().VMInstances(ns).Create(ctx, inline("web", "root"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		_, err := c.apps.AppsV1alpha1().VMDisks(ns).Create(ctx, newDisk("web-root", appsv1alpha1.VMDiskSpec{}), metav1.CreateOptions{})
		assertConflict(t, err, "VMInstance web")
		if _, err := c.cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, "web-root", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("a DataVolume was written: %v", err)
		}
	})
	t.Run("two-instances-one-datavolume", func(t *testing.T) {
		ns := newNamespace(t, c)
		if _, err := c.apps.AppsV1alpha1().VMInstances(ns).Create(ctx, inline("a", "b-c"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		_, err := c.apps.AppsV1alpha1().VMInstances(ns).Create(ctx, inline("a-b", "c"), metav1.CreateOptions{})
		assertConflict(t, err, "VMInstance a")
		assertNoBackendObjects(t, c, ns, "a-b")
	})
	t.Run("two-instances-one-datavolume-the-other-way", func(t *testing.T) {
		ns := newNamespace(t, c)
		if _, err := c.apps.AppsV1alpha1().VMInstances(ns).Create(ctx, inline("a-b", "c"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		_, err := c.apps.AppsV1alpha1().VMInstances(ns).Create(ctx, inline("a", "b-c"), metav1.CreateOptions{})
		assertConflict(t, err, "VMInstance a-b")
		assertNoBackendObjects(t, c, ns, "a")
	})
}

func assertConflict(t *testing.T, err error, mentions string) {
	t.Helper()
	if !apierrors.IsConflict(err) {
		t.Fatalf("want 409 Conflict, got %v", err)
	}
	if !strings.Contains(err.Error(), mentions) {
		t.Fatalf("the conflict should name %q: %v", mentions, err)
	}
}

// TestRecreateAfterOrphaningDelete deletes a VMInstance with
// --cascade=orphan, which completes (the garbage collector cannot orphan
// virt-controller's instance type revisions: vm-apiserver deletes them)
// and leaves its Secrets, Service and the machine virt-controller started
// (its VMI) behind, and creates it again: the new VMInstance takes them
// over instead of refusing its own names.
func TestRecreateAfterOrphaningDelete(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	key := sshKey(t)
	spec := appsv1alpha1.VMInstanceSpec{External: true, ExternalPorts: []appsv1alpha1.ExternalPort{{Port: 22}}, SSHKeys: []string{key}, CloudInit: "#cloud-config\nhostname: web\n"}
	if _, err := c.apps.AppsV1alpha1().VMInstances(ns).Create(ctx, newInstance("web", spec), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubectl(t, "delete", "vminstance", "web", "-n", ns, "--cascade=orphan", "--wait=true")
	eventually(t, "the VirtualMachine to be gone", func() (bool, string) {
		_, err := kubevirtClient(t).KubevirtV1().VirtualMachines(ns).Get(ctx, "web", metav1.GetOptions{})
		return apierrors.IsNotFound(err), "still there"
	})
	vmi, err := kubevirtClient(t).KubevirtV1().VirtualMachineInstances(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil || len(vmi.OwnerReferences) != 0 {
		t.Fatalf("the orphaned VMI should stay, without an owner: %v %+v", err, vmi.OwnerReferences)
	}
	secret, err := c.kube.CoreV1().Secrets(ns).Get(ctx, "web-ssh-keys", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the orphaned Secret should stay: %v", err)
	}
	if len(secret.OwnerReferences) != 0 {
		t.Fatalf("the Secret still has an owner: %v", secret.OwnerReferences)
	}

	spec.CloudInit = "#cloud-config\nhostname: web2\n"
	created, err := c.apps.AppsV1alpha1().VMInstances(ns).Create(ctx, newInstance("web", spec), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("re-creating over the orphaned objects: %v", err)
	}
	if created.Spec.CloudInit != spec.CloudInit || len(created.Spec.SSHKeys) != 1 || !created.Spec.External {
		t.Fatalf("re-created: %+v", created.Spec)
	}
	for _, name := range []string{"web-ssh-keys", "web-cloud-init"} {
		s, err := c.kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != created.UID {
			t.Errorf("Secret %s is not owned by the new VM: %v", name, s.OwnerReferences)
		}
	}
	svc, err := c.kube.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(svc.OwnerReferences) != 1 || svc.OwnerReferences[0].UID != created.UID {
		t.Errorf("the Service is not owned by the new VM: %v", svc.OwnerReferences)
	}
}

// TestOwnValidationErrorsNameNoBackend checks that a refusal of
// vm-apiserver's own is not reported as the backend's.
func TestOwnValidationErrorsNameNoBackend(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	_, err := c.apps.AppsV1alpha1().VMInstances(ns).Create(context.Background(),
		newInstance("web", appsv1alpha1.VMInstanceSpec{InstanceType: "no.such-type"}), metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("want 422, got %v", err)
	}
	if msg := err.Error(); strings.Contains(msg, "backend") || !strings.Contains(msg, `VMInstance.apps.cozystack.io "web" is invalid: spec.instanceType`) {
		t.Fatalf("message: %s", msg)
	}
}
