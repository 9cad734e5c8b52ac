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

package validation

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
)

func validDisk() *apps.VMDisk {
	size := resource.MustParse("5Gi")
	return &apps.VMDisk{
		ObjectMeta: metav1.ObjectMeta{Name: "disk", Namespace: "ns", ResourceVersion: "1"},
		Spec:       apps.VMDiskSpec{Storage: &size, StorageClass: "replicated"},
	}
}

// headers is n distinct plain headers.
func headers(n int) map[string]string {
	h := make(map[string]string, n)
	for i := range n {
		h[fmt.Sprintf("X-Header-%d", i)] = "v"
	}
	return h
}

func TestValidateVMDisk(t *testing.T) {
	sha256 := "sha256:" + strings.Repeat("a", 64)
	cases := []struct {
		name   string
		change func(*apps.VMDisk)
		// wantField is the path of the error, "" for a valid disk.
		wantField string
	}{
		{"blank", func(*apps.VMDisk) {}, ""},
		{"http with checksum and headers", func(d *apps.VMDisk) {
			d.Spec.Source.HTTP = &apps.HTTPDiskSource{URL: "https://example.com/x.img", Checksum: sha256, Headers: map[string]string{"Authorization": "Bearer t"}}
		}, ""},
		{"md5 checksum", func(d *apps.VMDisk) {
			d.Spec.Source.HTTP = &apps.HTTPDiskSource{URL: "http://example.com/x.img", Checksum: "md5:" + strings.Repeat("0", 32)}
		}, ""},
		{"registry", func(d *apps.VMDisk) {
			d.Spec.Source.Registry = &apps.RegistryDiskSource{URL: "docker://quay.io/kubevirt/cirros-container-disk-demo"}
		}, ""},
		{"http without url", func(d *apps.VMDisk) { d.Spec.Source.HTTP = &apps.HTTPDiskSource{} }, "spec.source.http.url"},
		{"http without host", func(d *apps.VMDisk) { d.Spec.Source.HTTP = &apps.HTTPDiskSource{URL: "https:///x"} }, "spec.source.http.url"},
		{"sha1 of sha256 length", func(d *apps.VMDisk) {
			d.Spec.Source.HTTP = &apps.HTTPDiskSource{URL: "https://e.com/x", Checksum: "sha1:" + strings.Repeat("a", 64)}
		}, "spec.source.http.checksum"},
		{"checksum not hex", func(d *apps.VMDisk) {
			d.Spec.Source.HTTP = &apps.HTTPDiskSource{URL: "https://e.com/x", Checksum: "sha256:" + strings.Repeat("g", 64)}
		}, "spec.source.http.checksum"},
		{"header value with newline", func(d *apps.VMDisk) {
			d.Spec.Source.HTTP = &apps.HTTPDiskSource{URL: "https://e.com/x", Headers: map[string]string{"X-A": "a\nb"}}
		}, "spec.source.http.headers[X-A]"},
		{"registry empty image", func(d *apps.VMDisk) { d.Spec.Source.Registry = &apps.RegistryDiskSource{URL: "docker://"} }, "spec.source.registry.url"},
		{"snapshot bad namespace", func(d *apps.VMDisk) {
			d.Spec.Source.Snapshot = &apps.SnapshotDiskSource{Name: "s", Namespace: "Bad_NS"}
		}, "spec.source.snapshot.namespace"},
		{"pvc and snapshot", func(d *apps.VMDisk) {
			d.Spec.Source.PVC = &apps.PVCDiskSource{Name: "p"}
			d.Spec.Source.Snapshot = &apps.SnapshotDiskSource{Name: "s"}
		}, "spec.source"},
		{"no storage", func(d *apps.VMDisk) { d.Spec.Storage = nil }, "spec.storage"},
		{"storage 1e3000", func(d *apps.VMDisk) { d.Spec.Storage = qty("1e3000") }, "spec.storage"},
		{"storage 1e100", func(d *apps.VMDisk) { d.Spec.Storage = qty("1e100") }, "spec.storage"},
		{"storage half a byte", func(d *apps.VMDisk) { d.Spec.Storage = qty("0.5") }, "spec.storage"},
		{"storage in millibytes", func(d *apps.VMDisk) { d.Spec.Storage = qty("1500m") }, "spec.storage"},
		{"storage beyond 1Pi", func(d *apps.VMDisk) { d.Spec.Storage = qty("1025Ti") }, "spec.storage"},
		{"storage at 1Pi", func(d *apps.VMDisk) { d.Spec.Storage = qty("1Pi") }, ""},
		{"storage of one byte", func(d *apps.VMDisk) { d.Spec.Storage = qty("1") }, ""},
		{"url with user and password", func(d *apps.VMDisk) {
			d.Spec.Source.HTTP = &apps.HTTPDiskSource{URL: "https://user:p%40ss@example.com/x.img"}
		}, ""},
		{"url with a user but no password", func(d *apps.VMDisk) {
			d.Spec.Source.HTTP = &apps.HTTPDiskSource{URL: "https://user@example.com/x.img"}
		}, "spec.source.http.url"},
		{"url with an empty password", func(d *apps.VMDisk) {
			d.Spec.Source.HTTP = &apps.HTTPDiskSource{URL: "https://user:@example.com/x.img"}
		}, "spec.source.http.url"},
		{"url with a password but no user", func(d *apps.VMDisk) {
			d.Spec.Source.HTTP = &apps.HTTPDiskSource{URL: "https://:secret@example.com/x.img"}
		}, "spec.source.http.url"},
		{"new disk restating the redacted password", func(d *apps.VMDisk) {
			d.Spec.Source.HTTP = &apps.HTTPDiskSource{URL: "https://user:(redacted)@example.com/x.img"}
		}, "spec.source.http.url"},
		{"new disk restating a redacted header", func(d *apps.VMDisk) {
			d.Spec.Source.HTTP = &apps.HTTPDiskSource{URL: "https://example.com/x.img", Headers: map[string]string{"Authorization": "(redacted: kept in a Secret)"}}
		}, "spec.source.http.headers[Authorization]"},
		{"url too long", func(d *apps.VMDisk) {
			d.Spec.Source.HTTP = &apps.HTTPDiskSource{URL: "https://example.com/" + strings.Repeat("x", maxHTTPFieldBytes)}
		}, "spec.source.http.url"},
		{"as many headers as allowed", func(d *apps.VMDisk) {
			d.Spec.Source.HTTP = &apps.HTTPDiskSource{URL: "https://example.com/x.img", Headers: headers(maxHTTPHeaders)}
		}, ""},
		{"too many headers", func(d *apps.VMDisk) {
			d.Spec.Source.HTTP = &apps.HTTPDiskSource{URL: "https://example.com/x.img", Headers: headers(maxHTTPHeaders + 1)}
		}, "spec.source.http.headers"},
		{"header too long", func(d *apps.VMDisk) {
			d.Spec.Source.HTTP = &apps.HTTPDiskSource{URL: "https://example.com/x.img", Headers: map[string]string{"X-A": strings.Repeat("a", maxHTTPFieldBytes)}}
		}, "spec.source.http.headers[X-A]"},
		{"name not a DNS label", func(d *apps.VMDisk) { d.Name = "a.b" }, "metadata.name"},
		{"reserved annotation", func(d *apps.VMDisk) {
			d.Annotations = map[string]string{"vm.apps.cozystack.io/optical": "true"}
		}, "metadata.annotations[vm.apps.cozystack.io/optical]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := validDisk()
			tc.change(d)
			errs := ValidateVMDisk(d)
			if tc.wantField == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				return
			}
			for _, e := range errs {
				if e.Field == tc.wantField {
					return
				}
			}
			t.Fatalf("want an error on %s, got %v", tc.wantField, errs)
		})
	}
}

func TestValidateVMDiskUpdate(t *testing.T) {
	old := validDisk()
	grown := validDisk()
	grown.Spec.Storage = resource.NewQuantity(10<<30, resource.BinarySI)
	if errs := ValidateVMDiskUpdate(grown, old); len(errs) > 0 {
		t.Fatalf("growing: %v", errs)
	}
	same := validDisk()
	same.Spec.Storage = resource.NewQuantity(5<<30, resource.BinarySI) // 5Gi written another way
	if errs := ValidateVMDiskUpdate(same, old); len(errs) > 0 {
		t.Fatalf("the same size: %v", errs)
	}
	shrunk := validDisk()
	shrunk.Spec.Storage = resource.NewQuantity(1<<30, resource.BinarySI)
	if errs := ValidateVMDiskUpdate(shrunk, old); len(errs) != 1 || errs[0].Field != "spec.storage" {
		t.Fatalf("shrinking: %v", errs)
	}
}

// TestValidateVMDiskErrorsDoNotEchoCredentials checks that no error repeats
// a URL's password or a credential header's value.
func TestValidateVMDiskErrorsDoNotEchoCredentials(t *testing.T) {
	for _, src := range []*apps.HTTPDiskSource{
		{URL: "ftp://user:hunter2@example.com/x.img"},
		{URL: "https://user:hunter2@exa mple.com/x.img"},
		{URL: "https://user:hunter2@/x.img"},
		{URL: "https://example.com/x.img", Headers: map[string]string{"Authorization": "Bearer hunter2\n"}},
	} {
		d := validDisk()
		d.Spec.Source.HTTP = src
		errs := ValidateVMDisk(d)
		if len(errs) == 0 {
			t.Errorf("%+v: no error", src)
		}
		for _, e := range errs {
			if strings.Contains(e.Error(), "hunter2") {
				t.Errorf("the error repeats the credential: %s", e.Error())
			}
		}
	}
}

// TestValidateVMDiskUpdateKeepsRedactedCredentials checks that an update
// restating the redacted URL, as read, is no change of the source.
func TestValidateVMDiskUpdateKeepsRedactedCredentials(t *testing.T) {
	old := validDisk()
	old.Spec.Source.HTTP = &apps.HTTPDiskSource{URL: "https://user:(redacted)@example.com/x.img"}
	same := old.DeepCopy()
	if errs := ValidateVMDiskUpdate(same, old); len(errs) > 0 {
		t.Fatalf("restating the redacted URL: %v", errs)
	}
	other := old.DeepCopy()
	other.Spec.Source.HTTP.URL = "https://other:(redacted)@example.com/x.img"
	if errs := ValidateVMDiskUpdate(other, old); len(errs) != 1 || errs[0].Field != "spec.source" {
		t.Fatalf("another user: %v", errs)
	}
}
