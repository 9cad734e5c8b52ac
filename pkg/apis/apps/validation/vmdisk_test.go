package validation

import (
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
