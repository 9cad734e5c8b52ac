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
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/cozystack/vm-apiserver/test/environment"
)

// certManagerVersion is the cert-manager whose CRDs the overlay's
// Certificates and Issuers are checked against (from the Go module proxy).
const certManagerVersion = "v1.21.2"

// TestDeployManifestsServerDryRun renders the kustomize base, both
// overlays and the optional components, and applies each with
// --dry-run=server against the real kube-apiserver with the KubeVirt, CDI
// and cert-manager CRDs installed: every object must be accepted.
func TestDeployManifestsServerDryRun(t *testing.T) {
	repo, err := environment.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	installCertManagerCRDs(t)

	// A copy of artifacts/, so that the own-certificate overlay can get
	// its files and the overlays their components without touching the
	// checkout.
	tree := t.TempDir()
	for _, dir := range []string{"deploy", "overlays", "catalogue"} {
		if out, err := exec.Command("cp", "-r", filepath.Join(repo, "artifacts", dir), filepath.Join(tree, dir)).CombinedOutput(); err != nil {
			t.Fatalf("copying artifacts/%s: %v: %s", dir, err, out)
		}
	}
	for _, overlay := range []string{"cert-manager", "own-certificate"} {
		file := filepath.Join(tree, "overlays", overlay, "kustomization.yaml")
		text := readFile(t, file)
		enabled := strings.NewReplacer("# components:", "components:", "#   - ../../deploy/components/", "  - ../../deploy/components/").Replace(text)
		if enabled == text {
			t.Fatalf("%s: no commented components list to enable", file)
		}
		if err := os.WriteFile(file, []byte(enabled), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ownCert := filepath.Join(tree, "overlays", "own-certificate")
	caPEM := writeServingCertificate(t, ownCert)

	for _, tc := range []struct {
		name, dir string
		// kinds that must be among the rendered objects
		kinds []string
	}{
		{"base", filepath.Join(repo, "artifacts", "deploy"),
			[]string{"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "RoleBinding", "Deployment", "PodDisruptionBudget", "Service", "APIService"}},
		{"cert-manager", filepath.Join(tree, "overlays", "cert-manager"),
			[]string{"Deployment", "APIService", "Certificate", "Issuer", "Role", "VirtualMachineClusterInstancetype", "VirtualMachineClusterPreference"}},
		{"own-certificate", ownCert,
			[]string{"Deployment", "APIService", "Secret", "Role", "VirtualMachineClusterInstancetype"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rendered := kubectl(t, "kustomize", tc.dir)
			objects := decodeObjects(t, rendered)
			kinds := map[string]bool{}
			for _, o := range objects {
				kinds[o.GetKind()] = true
			}
			for _, k := range tc.kinds {
				if !kinds[k] {
					t.Errorf("no %s rendered", k)
				}
			}
			checkDeployment(t, objects)
			for _, o := range objects {
				switch {
				case o.GetKind() == "APIService" && tc.name == "cert-manager":
					if got := o.GetAnnotations()["cert-manager.io/inject-ca-from"]; got != "vm-system/vm-apiserver-serving" {
						t.Errorf("APIService inject-ca-from = %q", got)
					}
				case o.GetKind() == "APIService" && tc.name == "own-certificate":
					bundle, _, _ := unstructured.NestedString(o.Object, "spec", "caBundle")
					got, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(bundle, "\n", ""))
					if err != nil || !bytes.Equal(got, caPEM) {
						t.Errorf("APIService caBundle is not ca.crt: %q (%v)", bundle, err)
					}
				}
			}

			// Server-side apply, as `kubectl apply --server-side` would
			// install it; --force-conflicts because the environment owns
			// some fields of the Service and APIService it registered.
			out := kubectlStdin(t, rendered, "apply", "--server-side", "--force-conflicts", "--dry-run=server", "-f", "-")
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != len(objects) {
				t.Fatalf("%d objects rendered, %d applied:\n%s", len(objects), len(lines), out)
			}
			for _, l := range lines {
				if !strings.HasSuffix(l, "serverside-applied (server dry run)") {
					t.Errorf("not accepted: %s", l)
				}
			}
			t.Logf("%d objects accepted", len(objects))
		})
	}
}

func decodeObjects(t *testing.T, manifests string) []unstructured.Unstructured {
	t.Helper()
	var objects []unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifests), 4096)
	for {
		var o unstructured.Unstructured
		if err := dec.Decode(&o.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatal(err)
		}
		if len(o.Object) > 0 {
			objects = append(objects, o)
		}
	}
	return objects
}

// checkDeployment checks what the manifests promise about the pods.
func checkDeployment(t *testing.T, objects []unstructured.Unstructured) {
	t.Helper()
	for _, o := range objects {
		if o.GetKind() != "Deployment" {
			continue
		}
		replicas, _, _ := unstructured.NestedFieldNoCopy(o.Object, "spec", "replicas")
		pod, _, _ := unstructured.NestedMap(o.Object, "spec", "template", "spec")
		containers, _, _ := unstructured.NestedSlice(pod, "containers")
		if fmt.Sprint(replicas) != "2" || len(containers) != 1 {
			t.Fatalf("Deployment: %v replicas, %d containers", replicas, len(containers))
		}
		c := containers[0].(map[string]any)
		for _, want := range []struct {
			obj  map[string]any
			path []string
			val  any
		}{
			{pod, []string{"automountServiceAccountToken"}, false},
			{pod, []string{"securityContext", "runAsNonRoot"}, true},
			{pod, []string{"securityContext", "seccompProfile", "type"}, "RuntimeDefault"},
			{c, []string{"securityContext", "readOnlyRootFilesystem"}, true},
			{c, []string{"securityContext", "allowPrivilegeEscalation"}, false},
			{c, []string{"readinessProbe", "httpGet", "path"}, "/readyz"},
			{c, []string{"livenessProbe", "httpGet", "path"}, "/livez"},
		} {
			got, _, _ := unstructured.NestedFieldNoCopy(want.obj, want.path...)
			if got != want.val {
				t.Errorf("Deployment %s = %v, want %v", strings.Join(want.path, "."), got, want.val)
			}
		}
		drop, _, _ := unstructured.NestedStringSlice(c, "securityContext", "capabilities", "drop")
		if len(drop) != 1 || drop[0] != "ALL" {
			t.Errorf("Deployment drops capabilities %v", drop)
		}
		for _, r := range []string{"requests", "limits"} {
			if res, _, _ := unstructured.NestedStringMap(c, "resources", r); res["memory"] == "" || res["cpu"] == "" {
				t.Errorf("Deployment resources.%s = %v", r, res)
			}
		}
		if _, ok, _ := unstructured.NestedMap(pod, "affinity", "podAntiAffinity"); !ok {
			t.Error("Deployment has no pod anti-affinity")
		}
		args, _, _ := unstructured.NestedStringSlice(c, "args")
		if !containsAll(strings.Join(args, " "), []string{"--tls-cert-file=", "--shutdown-delay-duration=", "--shutdown-watch-termination-grace-period="}) {
			t.Errorf("Deployment args %v", args)
		}
	}
}

// installCertManagerCRDs installs cert-manager's Certificate and Issuer
// CRDs (from the cert-manager module, which ships them for testing) for
// the duration of the test.
func installCertManagerCRDs(t *testing.T) {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json", "github.com/cert-manager/cert-manager@"+certManagerVersion)
	cmd.Dir = t.TempDir() // outside the repository's module
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("downloading cert-manager %s: %v", certManagerVersion, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download: %v: %s", err, out)
	}
	var files []string
	for _, name := range []string{"cert-manager.io_certificates.yaml", "cert-manager.io_issuers.yaml"} {
		files = append(files, "-f", filepath.Join(mod.Dir, "deploy", "crds", name))
	}
	kubectl(t, append([]string{"apply", "--server-side"}, files...)...)
	t.Cleanup(func() {
		_, _ = env.Kubectl(context.Background(), "", append([]string{"delete", "--wait=false"}, files...)...)
	})
	kubectl(t, append([]string{"wait", "--for=condition=Established", "--timeout=60s"}, files...)...)
}
