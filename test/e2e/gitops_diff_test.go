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
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	appsv1alpha1 "github.com/cozystack/vm-apiserver/pkg/apis/apps/v1alpha1"
)

// kubectlDiff runs kubectl diff (client- or server-side) on manifest and
// returns its output and whether it found a difference; kubectl exits 1 for
// a difference, 0 for none and more on an error.
func kubectlDiff(t *testing.T, manifest string, serverSide bool) (string, bool) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "manifest.yaml")
	if err := os.WriteFile(path, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"diff", "-f", path}
	if serverSide {
		args = append(args, "--server-side", "--force-conflicts")
	}
	out, err := env.KubectlCommand(context.Background(), args...).CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), false
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		return string(out), true
	}
	t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	return "", false
}

// TestKubectlDiffSeesEverySpecField applies a VMInstance and a VMDisk, finds
// no difference right after, and a difference for a change of each mutable
// spec field: kubectl diff is a dry-run request, which must answer what the
// write would store, Service- and Secret-backed fields included.
func TestKubectlDiffSeesEverySpecField(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	key, otherKey := sshKey(t), sshKey(t)
	instance := `apiVersion: apps.cozystack.io/v1alpha1
kind: VMInstance
metadata:
  name: web
  namespace: ` + ns + `
  labels:
    app: web
spec:
  running: true
  instanceType: u1.medium
  instanceProfile: ubuntu
  external: true
  externalPorts:
  - port: 22
  disks:
  - name: root
    size: 10Gi
  sshKeys:
  - "` + key + `"
  cloudInit: |
    #cloud-config
    hostname: web
`
	disk := `apiVersion: apps.cozystack.io/v1alpha1
kind: VMDisk
metadata:
  name: data
  namespace: ` + ns + `
spec:
  storage: 5Gi
`
	changes := []struct{ name, manifest, from, to, shows string }{
		{"labels", instance, "app: web", "app: shop", "shop"},
		{"running", instance, "running: true", "running: false", "running: false"},
		{"instanceType", instance, "instanceType: u1.medium", "instanceType: u1.large", "u1.large"},
		{"instanceProfile", instance, "instanceProfile: ubuntu", "instanceProfile: fedora", "fedora"},
		{"external", instance, "external: true", "external: false", "-  external: true"},
		{"externalPorts", instance, "- port: 22", "- port: 2222", "2222"},
		{"disks", instance, "size: 10Gi", "size: 20Gi", "20Gi"},
		{"sshKeys", instance, key, otherKey, strings.Fields(otherKey)[1]},
		{"cloudInit", instance, "hostname: web", "hostname: shop", "hostname: shop"},
		{"resources", instance, "  running: true\n", "  running: true\n  resources:\n    memory: 6Gi\n", "6Gi"},
		{"VMDisk storage", disk, "storage: 5Gi", "storage: 8Gi", "8Gi"},
		{"VMDisk labels", disk, "  name: data\n", "  name: data\n  labels:\n    tier: fast\n", "tier: fast"},
	}
	for _, serverSide := range []bool{false, true} {
		mode := "client-side"
		apply := []string{"apply", "-f", "-"}
		if serverSide {
			mode = "server-side"
			apply = []string{"apply", "--server-side", "--force-conflicts", "-f", "-"}
		}
		t.Run(mode, func(t *testing.T) {
			for _, manifest := range []string{instance, disk} {
				kubectlStdin(t, manifest, apply...)
				if out, differs := kubectlDiff(t, manifest, serverSide); differs {
					t.Fatalf("a difference right after apply:\n%s", out)
				}
			}
			if !serverSide {
				// A disk grows once its claim is bound, a dry run too
				// (TestVMDiskGrowsByExpandingItsClaim).
				bindDiskClaim(t, c, ns, "data")
			}
			for _, change := range changes {
				changed := strings.Replace(change.manifest, change.from, change.to, 1)
				if changed == change.manifest {
					t.Fatalf("%s: the change does not apply to the manifest", change.name)
				}
				out, differs := kubectlDiff(t, changed, serverSide)
				if !differs || !strings.Contains(out, "+") || !strings.Contains(out, change.shows) {
					t.Errorf("%s: kubectl diff does not show the change to %q:\n%s", change.name, change.shows, out)
				}
			}
			// Nothing of the dry runs was stored.
			inst, err := c.apps.AppsV1alpha1().VMInstances(ns).Get(context.Background(), "web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(inst.Spec.ExternalPorts) != 1 || inst.Spec.ExternalPorts[0].Port != 22 || inst.Spec.SSHKeys[0] != key || !strings.Contains(inst.Spec.CloudInit, "hostname: web") {
				t.Fatalf("a dry run was stored: %+v", inst.Spec)
			}
		})
	}
}

// kstatusOf computes what kstatus (Flux's health checks, Helm --wait, kpt)
// says of a public object read through the API.
func kstatusOf(t *testing.T, resource, ns, name string) status.Status {
	t.Helper()
	raw, err := newClients(t).apps.AppsV1alpha1().RESTClient().Get().Namespace(ns).Resource(resource).Name(name).DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var obj unstructured.Unstructured
	if err := obj.UnmarshalJSON(raw); err != nil {
		t.Fatal(err)
	}
	result, err := status.Compute(&obj)
	if err != nil {
		t.Fatal(err)
	}
	return result.Status
}

// TestReadinessByKstatus checks that a VMInstance whose machine does not run
// and a VMDisk not imported yet are InProgress by kstatus' rules and not
// Ready for kubectl wait, and Current and Ready once KubeVirt and CDI report
// them so. What a node does for the machine is written as its components
// would (none runs here); the ready disk is one whose claim holds it
// already, which cdi-controller itself reports Succeeded (no importer pod
// can run without a node).
func TestReadinessByKstatus(t *testing.T) {
	c := newClients(t)
	kv := kubevirtClient(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	if _, err := c.apps.AppsV1alpha1().VMInstances(ns).Create(ctx, newInstance("web", appsv1alpha1.VMInstanceSpec{}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.apps.AppsV1alpha1().VMDisks(ns).Create(ctx, newDisk("data", appsv1alpha1.VMDiskSpec{}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := kstatusOf(t, "vminstances", ns, "web"); got != status.InProgressStatus {
		t.Errorf("a VMInstance without a running machine is %s, want InProgress", got)
	}
	if got := kstatusOf(t, "vmdisks", ns, "data"); got != status.InProgressStatus {
		t.Errorf("a VMDisk not imported is %s, want InProgress", got)
	}
	if out, err := env.Kubectl(ctx, "", "wait", "--for=condition=Ready", "--timeout=1s", "-n", ns, "vminstance/web"); err == nil {
		t.Errorf("kubectl wait found a VMInstance without a running machine Ready: %s", out)
	}

	// virt-controller makes the VMI; what a node would do is written here,
	// and virt-controller derives the VM's status (Running, Ready).
	runOnNode(t, c, kv, ns, "web", "node-1", "10.244.0.8")
	populatedClaim(t, c, ns, "restored")
	if _, err := c.apps.AppsV1alpha1().VMDisks(ns).Create(ctx, newDisk("restored", appsv1alpha1.VMDiskSpec{}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubectl(t, "wait", "--for=condition=Ready", "--timeout=30s", "-n", ns, "vminstance/web", "vmdisk/restored")
	if got := kstatusOf(t, "vmdisks", ns, "data"); got != status.InProgressStatus {
		t.Errorf("a VMDisk cdi-controller reports waiting for its volume is %s, want InProgress", got)
	}
	for _, r := range []string{"vminstances/web", "vmdisks/restored"} {
		resource, name, _ := strings.Cut(r, "/")
		if got := kstatusOf(t, resource, ns, name); got != status.CurrentStatus {
			t.Errorf("%s is %s once ready, want Current", r, got)
		}
	}

	// A stopped VMInstance is not Ready either, as KubeVirt's stopped VM is
	// not: the reason says why.
	kubectl(t, "patch", "vminstance", "web", "-n", ns, "--type", "merge", "-p", `{"spec":{"running":false}}`)
	inst, err := c.apps.AppsV1alpha1().VMInstances(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cond := range inst.Status.Conditions {
		if cond.Type == "Ready" && (cond.Status != metav1.ConditionFalse || cond.Reason != "Stopped") {
			t.Errorf("a stopped VMInstance's Ready condition: %+v", cond)
		}
	}
}
