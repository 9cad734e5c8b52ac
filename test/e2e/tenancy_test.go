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
	"encoding/json"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// grant binds user to a ClusterRole in namespace.
func grant(t *testing.T, c clients, ns, user, clusterRole string) {
	t.Helper()
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{GenerateName: user + "-"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRole},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}
	if _, err := c.kube.RbacV1().RoleBindings(ns).Create(context.Background(), binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// as runs kubectl as user (impersonated by the admin, so the request
// reaches vm-apiserver through the aggregator with the user's identity).
func as(user string, stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return env.Kubectl(ctx, stdin, append([]string{"--as=" + user}, args...)...)
}

func assertForbidden(t *testing.T, out string, err error, what string) {
	t.Helper()
	if err == nil || !strings.Contains(out, "Forbidden") {
		t.Errorf("%s: want 403 Forbidden, got %v\n%s", what, err, out)
	}
}

const tenantDisk = `apiVersion: apps.cozystack.io/v1alpha1
kind: VMDisk
metadata:
  name: disk
spec: {}
`

const tenantInstance = `apiVersion: apps.cozystack.io/v1alpha1
kind: VMInstance
metadata:
  name: vm
spec: {}
`

// TestTenancy checks access through ordinary RBAC with the shipped
// aggregated roles: alice is admin in tenant-a, bob views tenant-b, carol
// has nothing.
func TestTenancy(t *testing.T) {
	c := newClients(t)
	ensureNamespace(t, c, "tenant-a")
	ensureNamespace(t, c, "tenant-b")
	grant(t, c, "tenant-a", "alice", "admin")
	grant(t, c, "tenant-b", "bob", "view")
	for _, manifest := range []string{tenantDisk, tenantInstance} {
		kubectlStdin(t, manifest, "apply", "-n", "tenant-b", "-f", "-")
	}
	// kube-controller-manager aggregates the roles shipped in artifacts/
	// into admin and view.
	eventually(t, "alice to be allowed VMInstances through the admin role", func() (bool, string) {
		out, _ := env.Kubectl(context.Background(), "", "auth", "can-i", "create", "vminstances.apps.cozystack.io", "-n", "tenant-a", "--as=alice")
		return strings.TrimSpace(out) == "yes", out
	})
	eventually(t, "bob to be allowed to read VMDisks through the view role", func() (bool, string) {
		out, _ := env.Kubectl(context.Background(), "", "auth", "can-i", "list", "vmdisks.apps.cozystack.io", "-n", "tenant-b", "--as=bob")
		return strings.TrimSpace(out) == "yes", out
	})

	t.Run("alice-in-her-namespace", func(t *testing.T) {
		for _, step := range [][]string{
			{"apply", "-n", "tenant-a", "-f", "-"},
		} {
			for _, manifest := range []string{tenantDisk, tenantInstance} {
				if out, err := as("alice", manifest, step...); err != nil {
					t.Fatalf("alice %v: %v\n%s", step, err, out)
				}
			}
		}
		for _, args := range [][]string{
			{"get", "vminstance", "vm", "-n", "tenant-a"},
			{"get", "vmdisk", "-n", "tenant-a"},
			{"patch", "vminstance", "vm", "-n", "tenant-a", "--type", "merge", "-p", `{"spec":{"running":false}}`},
			{"label", "vmdisk", "disk", "-n", "tenant-a", "owner=alice"},
			{"delete", "vminstance", "vm", "-n", "tenant-a"},
			{"delete", "vmdisk", "disk", "-n", "tenant-a"},
		} {
			if out, err := as("alice", "", args...); err != nil {
				t.Errorf("alice %v: %v\n%s", args, err, out)
			}
		}
	})

	t.Run("alice-in-tenant-b", func(t *testing.T) {
		for _, args := range [][]string{
			{"get", "vminstance", "vm", "-n", "tenant-b"},
			{"get", "vmdisk", "-n", "tenant-b"},
			{"get", "vmdisk", "-n", "tenant-b", "-w", "--request-timeout=5s"},
			{"patch", "vminstance", "vm", "-n", "tenant-b", "--type", "merge", "-p", `{"spec":{"running":false}}`},
			{"delete", "vmdisk", "disk", "-n", "tenant-b"},
		} {
			out, err := as("alice", "", args...)
			assertForbidden(t, out, err, "alice "+strings.Join(args, " "))
		}
		out, err := as("alice", tenantDisk, "create", "-n", "tenant-b", "-f", "-")
		assertForbidden(t, out, err, "alice create in tenant-b")
	})

	t.Run("bob-views-tenant-b", func(t *testing.T) {
		for _, args := range [][]string{
			{"get", "vminstance", "vm", "-n", "tenant-b"},
			{"get", "vmdisk", "-n", "tenant-b"},
		} {
			if out, err := as("bob", "", args...); err != nil {
				t.Errorf("bob %v: %v\n%s", args, err, out)
			}
		}
		lines := startLines(t, env.KubectlCommand(context.Background(), "--as=bob", "get", "vmdisk", "-n", "tenant-b", "-w"))
		lines.waitFor(t, "disk")
		for _, args := range [][]string{
			{"patch", "vminstance", "vm", "-n", "tenant-b", "--type", "merge", "-p", `{"spec":{"running":false}}`},
			{"delete", "vmdisk", "disk", "-n", "tenant-b"},
			{"label", "vmdisk", "disk", "-n", "tenant-b", "owner=bob"},
		} {
			out, err := as("bob", "", args...)
			assertForbidden(t, out, err, "bob "+strings.Join(args, " "))
		}
		out, err := as("bob", tenantDisk, "create", "-n", "tenant-b", "-f", "-")
		assertForbidden(t, out, err, "bob create")
	})

	t.Run("carol-has-nothing", func(t *testing.T) {
		for _, args := range [][]string{
			{"get", "vminstance", "-A"},
			{"get", "vmdisk", "-A"},
			{"get", "vmdisk", "-A", "-w", "--request-timeout=5s"},
			{"get", "vminstance", "vm", "-n", "tenant-b"},
			{"delete", "vmdisk", "disk", "-n", "tenant-b"},
		} {
			out, err := as("carol", "", args...)
			assertForbidden(t, out, err, "carol "+strings.Join(args, " "))
		}
		out, err := as("carol", tenantDisk, "create", "-n", "tenant-a", "-f", "-")
		assertForbidden(t, out, err, "carol create")
	})

	t.Run("clone-from-another-tenant", func(t *testing.T) {
		clone := `apiVersion: apps.cozystack.io/v1alpha1
kind: VMDisk
metadata:
  name: stolen
spec:
  source:
    pvc:
      name: disk
      namespace: tenant-b
`
		out, err := as("alice", clone, "create", "-n", "tenant-a", "-f", "-")
		assertForbidden(t, out, err, "alice cloning from tenant-b")
		if !strings.Contains(out, "datavolumes/source") {
			t.Errorf("the refusal should name the missing permission:\n%s", out)
		}
		if _, err := c.cdi.CdiV1beta1().DataVolumes("tenant-a").Get(context.Background(), "stolen", metav1.GetOptions{}); err == nil {
			t.Fatal("a refused clone left a DataVolume")
		}
		role := &rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: "e2e-datavolume-source"},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"cdi.kubevirt.io"}, Resources: []string{"datavolumes/source"}, Verbs: []string{"create"}}},
		}
		if _, err := c.kube.RbacV1().ClusterRoles().Create(context.Background(), role, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = c.kube.RbacV1().ClusterRoles().Delete(context.Background(), role.Name, metav1.DeleteOptions{})
		})
		grant(t, c, "tenant-b", "alice", role.Name)
		if out, err := as("alice", clone, "create", "-n", "tenant-a", "-f", "-"); err != nil {
			t.Fatalf("alice with datavolumes/source in tenant-b: %v\n%s", err, out)
		}
	})
}

// TestServerRunsWithLeastPrivilege checks the role vm-apiserver runs under
// in this suite: no wildcards, and nothing beyond its backend.
func TestServerRunsWithLeastPrivilege(t *testing.T) {
	c := newClients(t)
	role, err := c.kube.RbacV1().ClusterRoles().Get(context.Background(), "vm-apiserver", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, rule := range role.Rules {
		for _, list := range [][]string{rule.APIGroups, rule.Resources, rule.Verbs, rule.NonResourceURLs} {
			for _, v := range list {
				if strings.Contains(v, "*") {
					t.Errorf("the server's role has a wildcard: %+v", rule)
				}
			}
		}
	}
	sa := "--as=system:serviceaccount:vm-system:vm-apiserver"
	for _, args := range [][]string{
		{"create", "virtualmachines.kubevirt.io", "-n", "tenant-x"},
		{"get", "secrets", "-n", "kube-system"},
	} {
		if out := canI(sa, args...); out != "yes" {
			t.Errorf("the server needs %v: %s", args, out)
		}
	}
	for _, args := range [][]string{
		{"delete", "nodes"},
		{"create", "clusterrolebindings"},
		{"create", "pods", "-n", "tenant-x"},
		{"patch", "virtualmachines.kubevirt.io", "--subresource=status", "-n", "tenant-x"},
		{"update", "virtualmachines.kubevirt.io", "--subresource=status", "-n", "tenant-x"},
		{"impersonate", "users"},
	} {
		if out := canI(sa, args...); out != "no" {
			t.Errorf("the server must not be able to %v: %s", args, out)
		}
	}
	// The suite's server authenticates as that service account: its
	// kubeconfig holds the account's token and no client certificate.
	kubeconfig := readFile(t, env.ServerKubeconfig())
	if !strings.Contains(kubeconfig, "token:") || strings.Contains(kubeconfig, "client-certificate") {
		t.Fatalf("vm-apiserver does not run as its service account:\n%s", kubeconfig)
	}
}

// canI is kubectl auth can-i's answer, without the warnings it prints for
// cluster-scoped resources.
func canI(as string, args ...string) string {
	out, _ := env.Kubectl(context.Background(), "", append([]string{"auth", "can-i", as}, args...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// TestCredentialHeadersStayInASecret applies the reference's HTTP source
// with an Authorization header: the token goes to a Secret passed through
// CDI's secretExtraHeaders, and a tenant with only view never reads it.
func TestCredentialHeadersStayInASecret(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	grant(t, c, ns, "dave", "view")
	const token = "Bearer token123"
	manifest := `apiVersion: apps.cozystack.io/v1alpha1
kind: VMDisk
metadata:
  name: private-image
spec:
  source:
    http:
      url: "https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img"
      headers:
        Authorization: "` + token + `"
        Accept: "application/octet-stream"
`
	kubectlStdin(t, manifest, "apply", "-n", ns, "-f", "-")
	ctx := context.Background()
	dv, err := c.cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, "private-image", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	http := dv.Spec.Source.HTTP
	if strings.Join(http.ExtraHeaders, ",") != "Accept: application/octet-stream" || strings.Join(http.SecretExtraHeaders, ",") != "private-image-http-headers" {
		t.Fatalf("DataVolume headers: extra %v, secret %v", http.ExtraHeaders, http.SecretExtraHeaders)
	}
	raw, err := json.Marshal(dv)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "token123") {
		t.Fatalf("the token is in the DataVolume: %s", raw)
	}
	secret, err := c.kube.CoreV1().Secrets(ns).Get(ctx, "private-image-http-headers", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(secret.Data["header0"]) != "Authorization: "+token || len(secret.OwnerReferences) != 1 || secret.OwnerReferences[0].UID != dv.UID {
		t.Fatalf("headers Secret: %v %+v", secret.Data, secret.OwnerReferences)
	}

	eventually(t, "dave to be allowed to read VMDisks", func() (bool, string) {
		out := canI("--as=dave", "get", "vmdisks.apps.cozystack.io", "-n", ns)
		return out == "yes", out
	})
	out, err := as("dave", "", "get", "vmdisk", "private-image", "-n", ns, "-o", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "token123") || !strings.Contains(out, "Authorization: '(redacted: kept in a Secret)'") {
		t.Fatalf("a view user reads:\n%s", out)
	}
	if out, err := as("dave", "", "get", "secret", "private-image-http-headers", "-n", ns); err == nil {
		t.Fatalf("view must not read Secrets:\n%s", out)
	}

	// Applying the same manifest again is no change, not an immutable-field
	// error.
	if out := kubectlStdin(t, manifest, "apply", "-n", ns, "-f", "-"); !strings.Contains(out, "private-image") {
		t.Fatal(out)
	}
	again, err := c.cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, "private-image", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if raw, _ := json.Marshal(again); strings.Contains(string(raw), "token123") {
		t.Fatalf("re-applying put the token in the DataVolume: %s", raw)
	}
}

// TestAttachingNeedsTheRightToReadTheDisk gives erin VMInstances but not
// VMDisks: she may not attach a disk she could not read herself.
func TestAttachingNeedsTheRightToReadTheDisk(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "vminstances-only"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"apps.cozystack.io"}, Resources: []string{"vminstances"}, Verbs: []string{"get", "list", "create"}}},
	}
	if _, err := c.kube.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "erin"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "erin"}},
	}
	if _, err := c.kube.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubectlStdin(t, tenantDisk, "apply", "-n", ns, "-f", "-")
	attach := "apiVersion: apps.cozystack.io/v1alpha1\nkind: VMInstance\nmetadata:\n  name: vm\nspec:\n  disks:\n    - name: disk\n"
	eventually(t, "erin's role to apply", func() (bool, string) {
		out := canI("--as=erin", "create", "vminstances.apps.cozystack.io", "-n", ns)
		return out == "yes", out
	})
	out, err := as("erin", attach, "create", "-n", ns, "-f", "-")
	assertForbidden(t, out, err, "erin attaching a VMDisk she cannot read")
	if !strings.Contains(out, `attaching VMDisk "disk" needs get on vmdisks.apps.cozystack.io`) {
		t.Errorf("the refusal should name the permission:\n%s", out)
	}
	assertNoBackendObjects(t, c, ns, "vm")
	if out, err := as("erin", "apiVersion: apps.cozystack.io/v1alpha1\nkind: VMInstance\nmetadata:\n  name: plain\n", "create", "-n", ns, "-f", "-"); err != nil {
		t.Fatalf("erin may create a VMInstance without attached disks: %v\n%s", err, out)
	}
}
