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

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	applyv1alpha1 "github.com/cozystack/vm-apiserver/pkg/generated/applyconfiguration/apps/v1alpha1"
)

const ssaInstance = `apiVersion: apps.cozystack.io/v1alpha1
kind: VMInstance
metadata:
  name: web
  labels:
    tier: front
spec:
  external: true
  externalPorts:
    - port: 22
    - port: 80
  disks:
    - name: root
      size: 10Gi
`

// TestServerSideApply checks field ownership through kubectl apply
// --server-side and the generated apply configurations.
func TestServerSideApply(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	kubectlStdin(t, ssaInstance, "apply", "--server-side", "-n", ns, "-f", "-")
	// Removing a field from the applied configuration removes it.
	kubectlStdin(t, strings.Replace(ssaInstance, "    - port: 80\n", "", 1), "apply", "--server-side", "-n", ns, "-f", "-")
	inst, err := c.apps.AppsV1alpha1().VMInstances(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(inst.Spec.ExternalPorts) != 1 || inst.Spec.ExternalPorts[0].Port != 22 {
		t.Fatalf("port 80 should be gone: %+v", inst.Spec.ExternalPorts)
	}
	var managers []string
	for _, m := range inst.ManagedFields {
		managers = append(managers, m.Manager+"/"+string(m.Operation))
	}
	if strings.Join(managers, ",") != "kubectl/Apply" {
		t.Errorf("managed fields: %v", managers)
	}

	// Another manager setting the same field conflicts, and can force it.
	other := "apiVersion: apps.cozystack.io/v1alpha1\nkind: VMInstance\nmetadata:\n  name: web\n  labels:\n    tier: back\n"
	out, err := env.Kubectl(ctx, other, "apply", "--server-side", "--field-manager=other", "-n", ns, "-f", "-")
	if err == nil || !strings.Contains(out, "conflict") {
		t.Fatalf("a second manager should conflict on metadata.labels.tier: %v\n%s", err, out)
	}
	kubectlStdin(t, other, "apply", "--server-side", "--field-manager=other", "--force-conflicts", "-n", ns, "-f", "-")
	if got := kubectl(t, "get", "vminstance", "web", "-n", ns, "-o", "jsonpath={.metadata.labels.tier}"); got != "back" {
		t.Fatalf("forced label: %s", got)
	}

	// The generated apply configurations do the same from Go.
	cfg := applyv1alpha1.VMInstance("web", ns).WithSpec(applyv1alpha1.VMInstanceSpec().WithRunning(false))
	applied, err := c.apps.AppsV1alpha1().VMInstances(ns).Apply(ctx, cfg, metav1.ApplyOptions{FieldManager: "go-client"})
	if err != nil {
		t.Fatal(err)
	}
	if applied.Spec.Running == nil || *applied.Spec.Running || len(applied.Spec.Disks) != 1 {
		t.Fatalf("applied: %+v", applied.Spec)
	}
}

// TestPatchTypes patches with JSON, merge and strategic merge patches, and
// checks that a kubectl edit style replace of the object read is no change.
func TestPatchTypes(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	kubectlStdin(t, ssaInstance, "apply", "-n", ns, "-f", "-")
	kubectl(t, "patch", "vminstance", "web", "-n", ns, "--type", "json", "-p", `[{"op":"replace","path":"/spec/running","value":false}]`)
	kubectl(t, "patch", "vminstance", "web", "-n", ns, "--type", "merge", "-p", `{"spec":{"instanceType":"u1.large"}}`)
	// Strategic merge: list entries merge by their key instead of replacing
	// the list.
	kubectl(t, "patch", "vminstance", "web", "-n", ns, "--type", "strategic", "-p", `{"spec":{"disks":[{"name":"data","size":"20Gi"}],"externalPorts":[{"port":443}]}}`)
	inst, err := c.apps.AppsV1alpha1().VMInstances(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var disks []string
	for _, d := range inst.Spec.Disks {
		disks = append(disks, d.Name)
	}
	if *inst.Spec.Running || inst.Spec.InstanceType != "u1.large" || len(inst.Spec.Disks) != 2 || len(inst.Spec.ExternalPorts) != 3 {
		t.Fatalf("after patches: running %v type %s disks %v ports %+v", *inst.Spec.Running, inst.Spec.InstanceType, disks, inst.Spec.ExternalPorts)
	}

	// kubectl edit writes back what it read: nothing changes. KubeVirt's
	// controllers write the VM's status meanwhile, which makes what was
	// read stale (a 409, as for any kind): read again, as kubectl edit
	// asks its user to.
	eventually(t, "writing back the object read", func() (bool, string) {
		inst, err := c.apps.AppsV1alpha1().VMInstances(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		replaced, err := c.apps.AppsV1alpha1().VMInstances(ns).Update(ctx, inst, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			return false, err.Error()
		}
		if err != nil {
			t.Fatal(err)
		}
		// The resourceVersion is also the newest of the VMI's, which
		// virt-controller writes meanwhile: compare what a write changes.
		if replaced.Generation != inst.Generation || !equality.Semantic.DeepEqual(replaced.Spec, inst.Spec) ||
			!equality.Semantic.DeepEqual(replaced.Labels, inst.Labels) || !equality.Semantic.DeepEqual(replaced.Annotations, inst.Annotations) ||
			!equality.Semantic.DeepEqual(replaced.Finalizers, inst.Finalizers) {
			t.Fatalf("writing back the object read changed it:\nread    %+v\nwritten %+v", inst.ObjectMeta, replaced.ObjectMeta)
		}
		return true, ""
	})
}

// TestGetApplyRoundTrip pipes kubectl get -o json into kubectl apply: the
// spec and generation stay as they were (kubectl rewrites only its
// last-applied annotation, as for built-in kinds).
func TestGetApplyRoundTrip(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	kubectlStdin(t, ssaInstance, "apply", "-n", ns, "-f", "-")
	before, err := c.apps.AppsV1alpha1().VMInstances(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		// The JSON carries its resourceVersion: a 409 when virt-controller
		// wrote the VM in between, as for any kind; get again.
		eventually(t, "get | apply", func() (bool, string) {
			out, err := env.Kubectl(ctx, kubectl(t, "get", "vminstance", "-n", ns, "-o", "json"), "apply", "-f", "-")
			if err != nil && strings.Contains(out, "Conflict") {
				return false, out
			}
			if err != nil {
				t.Fatal(err)
			}
			return true, ""
		})
	}
	after, err := c.apps.AppsV1alpha1().VMInstances(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.Generation != before.Generation || !equality.Semantic.DeepEqual(after.Spec, before.Spec) {
		t.Fatalf("get | apply changed the VMInstance: generation %d -> %d\nbefore %+v\nafter  %+v", before.Generation, after.Generation, before.Spec, after.Spec)
	}
}

// TestKubectlEdit runs the real kubectl edit: closing the editor without a
// change is no change, and an edit is written as one update by the
// kubectl-edit field manager.
func TestKubectlEdit(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	kubectlStdin(t, ssaInstance, "apply", "-n", ns, "-f", "-")
	edit := func(editor string) string {
		t.Helper()
		cmd := env.KubectlCommand(ctx, "edit", "vminstance", "web", "-n", ns)
		cmd.Env = append(cmd.Env, "KUBE_EDITOR="+editor)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl edit with %s: %v\n%s", editor, err, out)
		}
		return string(out)
	}
	before, err := c.apps.AppsV1alpha1().VMInstances(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if out := edit("true"); !strings.Contains(out, "Edit cancelled, no changes made.") {
		t.Fatalf("closing the editor unchanged: %s", out)
	}
	if out := edit(`sed -i -e s/u1.medium/u1.large/`); !strings.Contains(out, "vminstance.apps.cozystack.io/web edited") {
		t.Fatalf("editing the instance type: %s", out)
	}
	after, err := c.apps.AppsV1alpha1().VMInstances(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.Spec.InstanceType != "u1.large" || after.Generation != before.Generation+1 {
		t.Fatalf("after the edit: instance type %s, generation %d -> %d", after.Spec.InstanceType, before.Generation, after.Generation)
	}
	after.Spec.InstanceType = before.Spec.InstanceType
	if !equality.Semantic.DeepEqual(after.Spec, before.Spec) {
		t.Fatalf("the edit changed more than the instance type:\nbefore %+v\nafter  %+v", before.Spec, after.Spec)
	}
	var managers []string
	for _, m := range after.ManagedFields {
		managers = append(managers, m.Manager)
	}
	if !strings.Contains(strings.Join(managers, ","), "kubectl-edit") {
		t.Errorf("the edit's field manager is missing: %v", managers)
	}
}

const ssaDisk = `apiVersion: apps.cozystack.io/v1alpha1
kind: VMDisk
metadata:
  name: data
  labels:
    tier: db
    team: storage
spec:
  storage: 10Gi
`

// TestServerSideApplyVMDisk is TestServerSideApply for VMDisks: removing a
// field from the applied configuration, a conflict on spec.storage, taking
// it over with --force-conflicts, and the generated apply configuration.
func TestServerSideApplyVMDisk(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	disks := c.apps.AppsV1alpha1().VMDisks(ns)
	kubectlStdin(t, ssaDisk, "apply", "--server-side", "-n", ns, "-f", "-")
	kubectlStdin(t, strings.Replace(ssaDisk, "    team: storage\n", "", 1), "apply", "--server-side", "-n", ns, "-f", "-")
	disk, err := disks.Get(ctx, "data", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, has := disk.Labels["team"]; has || disk.Labels["tier"] != "db" {
		t.Fatalf("the label removed from the configuration should be gone: %v", disk.Labels)
	}

	// A disk grows once its claim is bound (TestVMDiskGrowsByExpandingItsClaim).
	bindDiskClaim(t, c, ns, "data")
	grow := "apiVersion: apps.cozystack.io/v1alpha1\nkind: VMDisk\nmetadata:\n  name: data\nspec:\n  storage: 20Gi\n"
	out, err := env.Kubectl(ctx, grow, "apply", "--server-side", "--field-manager=resizer", "-n", ns, "-f", "-")
	if err == nil || !strings.Contains(out, "conflict") || !strings.Contains(out, ".spec.storage") {
		t.Fatalf("a second manager should conflict on spec.storage: %v\n%s", err, out)
	}
	kubectlStdin(t, grow, "apply", "--server-side", "--field-manager=resizer", "--force-conflicts", "-n", ns, "-f", "-")
	if got := kubectl(t, "get", "vmdisk", "data", "-n", ns, "-o", "jsonpath={.spec.storage}"); got != "20Gi" {
		t.Fatalf("forced storage: %s", got)
	}

	cfg := applyv1alpha1.VMDisk("data", ns).WithLabels(map[string]string{"backup": "daily"})
	applied, err := disks.Apply(ctx, cfg, metav1.ApplyOptions{FieldManager: "go-client"})
	if err != nil {
		t.Fatal(err)
	}
	if applied.Labels["backup"] != "daily" || applied.Labels["tier"] != "db" || applied.Spec.Storage.String() != "20Gi" {
		t.Fatalf("applied: labels %v storage %v", applied.Labels, applied.Spec.Storage)
	}
	owners := map[string]bool{}
	for _, m := range applied.ManagedFields {
		owners[m.Manager] = true
	}
	if !owners["kubectl"] || !owners["resizer"] || !owners["go-client"] {
		t.Errorf("field managers: %v", applied.ManagedFields)
	}
}
