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

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestVMDiskURLCredentials applies an HTTP source whose URL carries
// user:password@: the DataVolume's url has no userinfo and names a Secret
// with the credentials through CDI's secretRef, a tenant with only view
// reads the URL with the password redacted (also in kubectl's
// last-applied annotation), re-applying the manifest changes nothing, and
// the Secret is owned by the DataVolume.
func TestVMDiskURLCredentials(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	grant(t, c, ns, "frank", "view")
	const password = "S3cr3t-pa55"
	manifest := `apiVersion: apps.cozystack.io/v1alpha1
kind: VMDisk
metadata:
  name: private-mirror
spec:
  source:
    http:
      url: "https://mirror-user:` + password + `@images.example.com/noble.img?x=1"
      headers:
        Authorization: "Bearer tok3n-value"
  storage: 10Gi
`
	// A dry run writes nothing, Secrets included.
	kubectlStdin(t, manifest, "apply", "--dry-run=server", "-n", ns, "-f", "-")
	if secrets, err := c.kube.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{}); err != nil || len(secrets.Items) != 0 {
		t.Fatalf("a dry run left Secrets: %v %v", secrets, err)
	}

	kubectlStdin(t, manifest, "apply", "-n", ns, "-f", "-")
	dv, err := c.cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, "private-mirror", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	http := dv.Spec.Source.HTTP
	if http.URL != "https://images.example.com/noble.img?x=1" || http.SecretRef != "private-mirror-http-credentials" ||
		strings.Join(http.SecretExtraHeaders, ",") != "private-mirror-http-headers" {
		t.Fatalf("DataVolume source: %+v", http)
	}
	raw, err := json.Marshal(dv)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), password) || strings.Contains(string(raw), "tok3n-value") {
		t.Fatalf("a credential is in the DataVolume: %s", raw)
	}
	secret, err := c.kube.CoreV1().Secrets(ns).Get(ctx, "private-mirror-http-credentials", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(secret.Data["accessKeyId"]) != "mirror-user" || string(secret.Data["secretKey"]) != password ||
		len(secret.OwnerReferences) != 1 || secret.OwnerReferences[0].UID != dv.UID {
		t.Fatalf("credentials Secret: %v %+v", secret.Data, secret.OwnerReferences)
	}

	eventually(t, "frank to be allowed to read VMDisks", func() (bool, string) {
		out := canI("--as=frank", "get", "vmdisks.apps.cozystack.io", "-n", ns)
		return out == "yes", out
	})
	for _, args := range [][]string{
		{"get", "vmdisk", "private-mirror", "-n", ns, "-o", "yaml"},
		{"get", "vmdisk", "-n", ns, "-o", "json"},
		{"get", "vmdisk", "-n", ns, "-o", "wide"},
		{"describe", "vmdisk", "private-mirror", "-n", ns},
	} {
		out, err := as("frank", "", args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		if strings.Contains(out, password) || strings.Contains(out, "tok3n-value") {
			t.Fatalf("frank reads a credential with %v:\n%s", args, out)
		}
	}
	out, err := as("frank", "", "get", "vmdisk", "private-mirror", "-n", ns, "-o", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "url: https://mirror-user:(redacted)@images.example.com/noble.img?x=1") {
		t.Fatalf("the URL does not read back redacted:\n%s", out)
	}
	if !strings.Contains(out, `"url":"https://mirror-user:(redacted)@images.example.com/noble.img?x=1"`) {
		t.Fatalf("the last-applied annotation does not hold the redacted URL:\n%s", out)
	}
	if out, err := as("frank", "", "get", "secret", "private-mirror-http-credentials", "-n", ns); err == nil {
		t.Fatalf("view must not read Secrets:\n%s", out)
	}

	// Re-applying the same manifest is no change (not a 422 on the
	// immutable source).
	kubectlStdin(t, manifest, "apply", "-n", ns, "-f", "-")
	again, err := c.cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, "private-mirror", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// cdi-controller writes the DataVolume's status meanwhile: compare what
	// vm-apiserver writes, the spec (its generation) and labels.
	if again.Generation != dv.Generation || !equality.Semantic.DeepEqual(again.Labels, dv.Labels) {
		raw, _ := json.Marshal(again)
		t.Fatalf("re-applying changed the DataVolume (generation %d, was %d): %s", again.Generation, dv.Generation, raw)
	}
	// Writing back what was read, or restating the original password, is
	// accepted and keeps the stored credentials (kubectl's own bookkeeping,
	// managedFields and the last-applied annotation, may change).
	kubectlStdin(t, kubectl(t, "get", "vmdisk", "private-mirror", "-n", ns, "-o", "json"), "replace", "-f", "-")
	kubectl(t, "patch", "vmdisk", "private-mirror", "-n", ns, "--type", "merge", "-p",
		`{"spec":{"source":{"http":{"url":"https://mirror-user:`+password+`@images.example.com/noble.img?x=1"}}}}`)
	again, err = c.cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, "private-mirror", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if raw, _ := json.Marshal(again); strings.Contains(string(raw), password) || !equalJSON(t, again.Spec.Source, dv.Spec.Source) {
		t.Fatalf("writing back changed the DataVolume's source: %s", raw)
	}
	if s, err := c.kube.CoreV1().Secrets(ns).Get(ctx, secret.Name, metav1.GetOptions{}); err != nil || s.ResourceVersion != secret.ResourceVersion {
		t.Fatalf("the credentials Secret changed: %v", err)
	}

	// Another user name is a change of the immutable source.
	_, err = env.Kubectl(ctx, strings.Replace(manifest, "mirror-user", "someone-else", 1), "apply", "-n", ns, "-f", "-")
	if err == nil {
		t.Fatal("changing the URL's user name was accepted")
	}

	// A copy made from what a reader sees cannot be created: the redacted
	// password is not a password.
	original, err := c.apps.AppsV1alpha1().VMDisks(ns).Get(ctx, "private-mirror", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.apps.AppsV1alpha1().VMDisks(ns).Create(ctx, newDisk("copy", original.Spec), metav1.CreateOptions{})
	assertInvalid(t, err, "spec.source.http.url")

	// Deleting the disk leaves the Secrets to the garbage collector, as
	// their owner reference to the DataVolume says (checked above; how soon
	// the collector acts depends on when it discovered DataVolumes).
	kubectl(t, "delete", "vmdisk", "private-mirror", "-n", ns)
	if _, err := c.cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, "private-mirror", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the DataVolume is still there: %v", err)
	}
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(ja) == string(jb)
}
