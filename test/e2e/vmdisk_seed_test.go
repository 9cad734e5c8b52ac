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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestSeedVMDiskExamples applies the reference's three VMDisk examples as
// written and checks the table kubectl prints and the DataVolumes behind.
func TestSeedVMDiskExamples(t *testing.T) {
	c := newClients(t)
	ensureNamespace(t, c, "production")
	files := []string{example("ubuntu-disk.yaml"), example("data-disk.yaml"), example("windows-iso.yaml")}
	for _, f := range files {
		t.Cleanup(func() { _, _ = env.Kubectl(context.Background(), "", "delete", "--ignore-not-found", "-f", f) })
		out := kubectl(t, "apply", "-f", f)
		if !strings.Contains(out, "created") {
			t.Fatalf("kubectl apply -f %s: %s", f, out)
		}
	}

	// PHASE and PROGRESS are cdi-controller's: wait until it reported on
	// every disk.
	var rows [][]string
	eventuallyWithin(t, controllerTimeout, "cdi-controller to report on every disk", func() (bool, string) {
		rows = tableRows(t, kubectl(t, "get", "vmdisk", "-A"))
		for _, row := range rows[1:] {
			if len(row) != len(rows[0]) {
				return false, fmt.Sprint(rows)
			}
		}
		return true, ""
	})
	wantHeader := []string{"NAMESPACE", "NAME", "PHASE", "PROGRESS", "SIZE", "CLASS", "OPTICAL", "AGE"}
	if got := rows[0]; strings.Join(got, " ") != strings.Join(wantHeader, " ") {
		t.Fatalf("header: got %v, want %v", got, wantHeader)
	}
	wantRows := map[string]string{
		"default/ubuntu-24-disk":          "30Gi replicated false",
		"production/application-data":     "500Gi local false",
		"default/windows-server-2022-iso": "5Gi replicated true",
	}
	for _, row := range rows[1:] {
		key := row[0] + "/" + row[1]
		if want, ok := wantRows[key]; ok {
			if got := strings.Join(row[4:7], " "); got != want {
				t.Errorf("%s: got %q, want %q", key, got, want)
			}
			delete(wantRows, key)
		}
	}
	if len(wantRows) > 0 {
		t.Errorf("kubectl get vmdisk -A misses %v", wantRows)
	}

	wide := tableRows(t, kubectl(t, "get", "vmdisk", "-n", "default", "ubuntu-24-disk", "-o", "wide"))
	if got := strings.Join(wide[0], " "); got != "NAME PHASE PROGRESS SIZE CLASS OPTICAL AGE SOURCE USED-BY" {
		t.Errorf("wide header: %s", got)
	}
	if got := wide[1][len(wide[1])-1]; got != "http:https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img" {
		t.Errorf("wide SOURCE: %s", got)
	}

	ctx := context.Background()
	ubuntu, err := c.cdi.CdiV1beta1().DataVolumes("default").Get(ctx, "ubuntu-24-disk", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ubuntu.Spec.Source.HTTP == nil || ubuntu.Spec.Source.HTTP.URL != "https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img" {
		t.Errorf("ubuntu DataVolume source: %+v", ubuntu.Spec.Source)
	}
	assertStorage(t, ubuntu.Spec.Storage.Resources.Requests, *ubuntu.Spec.Storage.StorageClassName, "30Gi", "replicated")
	if ubuntu.Labels["os"] != "ubuntu" || ubuntu.Labels["version"] != "24.04" {
		t.Errorf("ubuntu DataVolume labels: %v", ubuntu.Labels)
	}

	data, err := c.cdi.CdiV1beta1().DataVolumes("production").Get(ctx, "application-data", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if data.Spec.Source.Blank == nil {
		t.Errorf("data DataVolume should be blank: %+v", data.Spec.Source)
	}
	assertStorage(t, data.Spec.Storage.Resources.Requests, *data.Spec.Storage.StorageClassName, "500Gi", "local")

	iso, err := c.cdi.CdiV1beta1().DataVolumes("default").Get(ctx, "windows-server-2022-iso", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if iso.Spec.Source.HTTP == nil || iso.Spec.Source.HTTP.URL != "https://example.com/windows-server-2022.iso" {
		t.Errorf("iso DataVolume source: %+v", iso.Spec.Source)
	}
	assertStorage(t, iso.Spec.Storage.Resources.Requests, *iso.Spec.Storage.StorageClassName, "5Gi", "replicated")
	disk, err := c.apps.AppsV1alpha1().VMDisks("default").Get(ctx, "windows-server-2022-iso", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !disk.Spec.Optical {
		t.Error("the ISO reads back as not optical")
	}
	if disk.UID != iso.UID || disk.ResourceVersion != iso.ResourceVersion {
		t.Errorf("uid/resourceVersion %s/%s differ from the DataVolume's %s/%s", disk.UID, disk.ResourceVersion, iso.UID, iso.ResourceVersion)
	}
}

func assertStorage(t *testing.T, requests corev1.ResourceList, class, wantSize, wantClass string) {
	t.Helper()
	size := requests[corev1.ResourceStorage]
	if size.String() != wantSize || class != wantClass {
		t.Errorf("storage %s class %s, want %s class %s", size.String(), class, wantSize, wantClass)
	}
}

// tableRows splits kubectl's table output into rows of fields.
func tableRows(t *testing.T, out string) [][]string {
	t.Helper()
	var rows [][]string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		rows = append(rows, strings.Fields(line))
	}
	if len(rows) < 2 {
		t.Fatalf("expected a header and rows, got:\n%s", out)
	}
	return rows
}

// TestExplainVMDisk checks that kubectl explain documents the fields from
// the published OpenAPI.
func TestExplainVMDisk(t *testing.T) {
	out := kubectl(t, "explain", "vmdisk.spec.source.http")
	for _, want := range []string{"KIND:       VMDisk", "url\t<string> -required-", "headers\t<map[string]string>", "checksum\t<string>", "sha256"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl explain vmdisk.spec.source.http lacks %q:\n%s", want, out)
		}
	}
}
