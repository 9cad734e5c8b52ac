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

package projection

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/randfill"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
	"github.com/cozystack/vm-apiserver/pkg/credentials"
)

// normalizeDisk makes a random disk one the API would accept after
// defaulting: at most one source, a size and a class, no reserved keys, no
// status (status is read from the backend, not written).
func normalizeDisk(d *apps.VMDisk, pick uint8) {
	src := d.Spec.Source
	d.Spec.Source = apps.VMDiskSource{}
	switch pick % 5 {
	case 1:
		if src.HTTP == nil {
			src.HTTP = &apps.HTTPDiskSource{}
		}
		d.Spec.Source.HTTP = src.HTTP
		for k, v := range d.Spec.Source.HTTP.Headers {
			delete(d.Spec.Source.HTTP.Headers, k)
			d.Spec.Source.HTTP.Headers[fmt.Sprintf("X-%x", k)] = fmt.Sprintf("%x", v)
		}
		if len(d.Spec.Source.HTTP.Headers) == 0 {
			d.Spec.Source.HTTP.Headers = nil
		}
		// Some URLs carry userinfo, which goes to a Secret.
		if pick&0x20 != 0 {
			d.Spec.Source.HTTP.URL = fmt.Sprintf("https://u%x:pw-%x-secret@example.com/%x", d.Name, d.Namespace, d.Spec.Source.HTTP.URL)
		}
	case 2:
		if src.Registry == nil {
			src.Registry = &apps.RegistryDiskSource{}
		}
		d.Spec.Source.Registry = src.Registry
	case 3:
		if src.PVC == nil {
			src.PVC = &apps.PVCDiskSource{}
		}
		d.Spec.Source.PVC = src.PVC
	case 4:
		if src.Snapshot == nil {
			src.Snapshot = &apps.SnapshotDiskSource{}
		}
		d.Spec.Source.Snapshot = src.Snapshot
	}
	size := resource.MustParse(fmt.Sprintf("%dGi", 1+int(pick)))
	d.Spec.Storage = &size
	if d.Spec.StorageClass == "" {
		d.Spec.StorageClass = "replicated"
	}
	d.Status = apps.VMDiskStatus{}
	d.TypeMeta = metav1.TypeMeta{}
	d.Labels = withoutReserved(d.Labels, nil)
	d.Annotations = withoutReserved(d.Annotations, backendAnnotations)
	d.Finalizers = withoutBackendFinalizers(d.Finalizers)
	// Fields the backend owns are not written and come back from it.
	d.UID, d.Generation, d.CreationTimestamp, d.DeletionTimestamp, d.DeletionGracePeriodSeconds = "", 0, metav1.Time{}, nil, nil
	d.SelfLink = ""
	for i := range d.ManagedFields {
		d.ManagedFields[i].Time = nil
		d.ManagedFields[i].FieldsV1 = nil
	}
	if len(d.ManagedFields) == 0 {
		d.ManagedFields = nil
	}
}

// TestVMDiskRoundTrip writes random disks to DataVolumes and reads them
// back: the result must be the disk that was written.
func TestVMDiskRoundTrip(t *testing.T) {
	filler := randfill.New().NilChance(0.3).NumElements(0, 3)
	for i := range 2000 {
		var disk apps.VMDisk
		filler.Fill(&disk)
		normalizeDisk(&disk, uint8(i))
		assertVMDiskRoundTrip(t, &disk)
	}
}

// FuzzVMDiskRoundTrip is the same property under the coverage-guided fuzzer
// (go test -fuzz=FuzzVMDiskRoundTrip ./pkg/projection).
func FuzzVMDiskRoundTrip(f *testing.F) {
	f.Add([]byte("seed"), uint8(1))
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, pick uint8) {
		var disk apps.VMDisk
		randfill.NewFromGoFuzz(data).NilChance(0.3).NumElements(0, 3).Fill(&disk)
		normalizeDisk(&disk, pick)
		assertVMDiskRoundTrip(t, &disk)
	})
}

func assertVMDiskRoundTrip(t *testing.T, disk *apps.VMDisk) {
	t.Helper()
	dv, err := DataVolumeFor(disk, nil)
	if err != nil {
		t.Fatal(err)
	}
	if dv.Labels[backendnames.KindLabel] != backendnames.VMDiskKind {
		t.Fatalf("the DataVolume lacks the kind label: %v", dv.Labels)
	}
	back, err := VMDiskFrom(dv)
	if err != nil {
		t.Fatal(err)
	}
	// What is read back is what was written, with credentials redacted;
	// the DataVolume holds none of them.
	want := disk.DeepCopy()
	if http := want.Spec.Source.HTTP; http != nil {
		if _, _, _, _, ok := credentials.SplitURLUserinfo(dv.Spec.Source.HTTP.URL); ok {
			t.Fatalf("the DataVolume's url has userinfo: %q", dv.Spec.Source.HTTP.URL)
		}
		if _, _, password, _, ok := credentials.SplitURLUserinfo(http.URL); ok {
			if dv.Spec.Source.HTTP.SecretRef != backendnames.CredentialsSecretName(disk.Name) {
				t.Fatalf("secretRef: %q", dv.Spec.Source.HTTP.SecretRef)
			}
			if raw, _ := json.Marshal(dv); len(password) >= 8 && strings.Contains(string(raw), password) {
				t.Fatalf("the password %q is in the DataVolume: %s", password, raw)
			}
		}
		http.URL = credentials.RedactURL(http.URL)
		for name := range http.Headers {
			if credentials.IsCredentialHeader(name) {
				http.Headers[name] = credentials.RedactedHeaderValue
			}
		}
	}
	// Status is the DataVolume's, tested on its own (readiness_test.go).
	back.Status = apps.VMDiskStatus{}
	// Equal as the API sees them: an empty map or list is no map or list.
	if diff := cmp.Diff(want, back, cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 }),
		cmp.Transformer("emptyNil", func(m map[string]string) map[string]string {
			if len(m) == 0 {
				return nil
			}
			return m
		})); diff != "" {
		t.Fatalf("round trip changed the disk (-written +read):\n%s", diff)
	}
}

// TestVMDiskUpdateKeepsBackendFields checks that an update changes only
// what the VMDisk maps and keeps what others wrote on the DataVolume:
// its uid, status and the annotations it read.
func TestVMDiskUpdateKeepsBackendFields(t *testing.T) {
	size := resource.MustParse("10Gi")
	disk := &apps.VMDisk{
		ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: "ns", Labels: map[string]string{"a": "1"}},
		Spec:       apps.VMDiskSpec{Storage: &size, StorageClass: "replicated", Optical: true},
	}
	current, err := DataVolumeFor(disk, nil)
	if err != nil {
		t.Fatal(err)
	}
	current.UID = "uid-1"
	current.Annotations["cdi.kubevirt.io/storage.bind.immediate.requested"] = "true"
	current.Status.Phase = "Succeeded"

	// The update starts from the object as read, as the store does.
	grown, err := VMDiskFrom(current)
	if err != nil {
		t.Fatal(err)
	}
	grown.Spec.Storage = resource.NewQuantity(20<<30, resource.BinarySI)
	grown.Spec.Optical = false
	grown.Labels = map[string]string{"b": "2"}
	if grown.Status.Phase != "Succeeded" {
		t.Fatalf("status not read: %+v", grown.Status)
	}
	updated, err := DataVolumeFor(grown, current)
	if err != nil {
		t.Fatal(err)
	}
	if updated.UID != "uid-1" || updated.Status.Phase != "Succeeded" ||
		updated.Annotations["cdi.kubevirt.io/storage.bind.immediate.requested"] != "true" {
		t.Errorf("backend fields lost: %+v", updated.ObjectMeta)
	}
	if _, ok := updated.Annotations[backendnames.OpticalAnnotation]; ok {
		t.Error("the optical marker stayed after optical was turned off")
	}
	if updated.Labels["b"] != "2" || updated.Labels["a"] != "" || updated.Labels[backendnames.KindLabel] != backendnames.VMDiskKind {
		t.Errorf("labels: %v", updated.Labels)
	}
	if !apiequality.Semantic.DeepEqual(updated.Spec, current.Spec) {
		t.Errorf("the DataVolume's spec changed, which CDI refuses: %+v", updated.Spec)
	}
	if got := updated.Annotations[backendnames.GrownStorageAnnotation]; got != "20Gi" || !Grows(current, updated) {
		t.Errorf("grown size recorded: %q, grows: %v", got, Grows(current, updated))
	}
	read, err := VMDiskFrom(updated)
	if err != nil {
		t.Fatal(err)
	}
	if read.Spec.Storage.String() != "20Gi" {
		t.Errorf("a grown disk reads back %s", read.Spec.Storage)
	}
	if _, ok := read.Annotations[backendnames.GrownStorageAnnotation]; ok {
		t.Error("the reserved annotation shows")
	}
}

// TestVMDiskFromUnsupportedSource checks that a DataVolume changed by hand
// to a source VMDisk cannot express is reported, not misread.
func TestVMDiskFromUnsupportedSource(t *testing.T) {
	size := resource.MustParse("1Gi")
	dv, err := DataVolumeFor(&apps.VMDisk{Spec: apps.VMDiskSpec{Storage: &size}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dv.Spec.Source.Blank = nil
	dv.Spec.Source.Upload = &cdiv1.DataVolumeSourceUpload{}
	if _, err := VMDiskFrom(dv); err == nil {
		t.Fatal("an upload source read as a VMDisk")
	}
}

// TestCredentialHeadersGoToASecret checks the split of HTTP headers: plain
// ones in the DataVolume, credentials in the Secret, redacted on read.
func TestCredentialHeadersGoToASecret(t *testing.T) {
	size := resource.MustParse("1Gi")
	disk := &apps.VMDisk{
		ObjectMeta: metav1.ObjectMeta{Name: "img", Namespace: "ns"},
		Spec: apps.VMDiskSpec{Storage: &size, StorageClass: "replicated", Source: apps.VMDiskSource{HTTP: &apps.HTTPDiskSource{
			URL: "https://example.com/x.img", Headers: map[string]string{"Authorization": "Bearer t", "X-Api-Key": "k", "Accept": "*/*"},
		}}},
	}
	dv, err := DataVolumeFor(disk, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := dv.Spec.Source.HTTP.ExtraHeaders; len(got) != 1 || got[0] != "Accept: */*" {
		t.Errorf("extraHeaders: %v", got)
	}
	if got := dv.Spec.Source.HTTP.SecretExtraHeaders; len(got) != 1 || got[0] != "img-http-headers" {
		t.Errorf("secretExtraHeaders: %v", got)
	}
	secret := HeadersSecretFor(disk)
	if secret == nil || string(secret.Data["header0"]) != "Authorization: Bearer t" || string(secret.Data["header1"]) != "X-Api-Key: k" {
		t.Fatalf("secret: %+v", secret)
	}
	back, err := VMDiskFrom(dv)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Authorization": credentials.RedactedHeaderValue, "X-Api-Key": credentials.RedactedHeaderValue, "Accept": "*/*"}
	if diff := cmp.Diff(want, back.Spec.Source.HTTP.Headers); diff != "" {
		t.Errorf("headers read back (-want +got):\n%s", diff)
	}
}

// TestURLCredentialsGoToASecret checks the split of URL userinfo: the
// DataVolume's url has none and names the credentials Secret, the Secret
// holds the decoded username and password, and the disk reads back with the
// username and a redacted password.
func TestURLCredentialsGoToASecret(t *testing.T) {
	size := resource.MustParse("1Gi")
	disk := &apps.VMDisk{
		ObjectMeta: metav1.ObjectMeta{Name: "img", Namespace: "ns"},
		Spec: apps.VMDiskSpec{Storage: &size, StorageClass: "replicated", Source: apps.VMDiskSource{HTTP: &apps.HTTPDiskSource{
			URL:     "https://alice:s3cr%40t@images.example.com:8443/a/x.img?sig=1#frag",
			Headers: map[string]string{"Authorization": "Bearer t"},
		}}},
	}
	dv, err := DataVolumeFor(disk, nil)
	if err != nil {
		t.Fatal(err)
	}
	http := dv.Spec.Source.HTTP
	if http.URL != "https://images.example.com:8443/a/x.img?sig=1#frag" || http.SecretRef != "img-http-credentials" {
		t.Errorf("DataVolume source: url %q, secretRef %q", http.URL, http.SecretRef)
	}
	if dv.Annotations[backendnames.URLUsernameAnnotation] != "alice" {
		t.Errorf("annotations: %v", dv.Annotations)
	}
	if raw, _ := json.Marshal(dv); strings.Contains(string(raw), "s3cr") {
		t.Errorf("the password is in the DataVolume: %s", raw)
	}
	secret := CredentialsSecretFor(disk)
	if secret == nil || secret.Name != "img-http-credentials" || secret.Namespace != "ns" ||
		string(secret.Data["accessKeyId"]) != "alice" || string(secret.Data["secretKey"]) != "s3cr@t" {
		t.Fatalf("secret: %+v", secret)
	}
	if secrets := SecretsFor(disk); len(secrets) != 2 || secrets[0].Name != "img-http-headers" || secrets[1].Name != "img-http-credentials" {
		t.Fatalf("SecretsFor: %v", secrets)
	}

	back, err := VMDiskFrom(dv)
	if err != nil {
		t.Fatal(err)
	}
	const public = "https://alice:(redacted)@images.example.com:8443/a/x.img?sig=1#frag"
	if got := back.Spec.Source.HTTP.URL; got != public {
		t.Errorf("read back as %q, want %q", got, public)
	}

	// Writing back what was read (an update) keeps the DataVolume as it is.
	again, err := DataVolumeFor(back, dv)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(dv, again); diff != "" {
		t.Errorf("writing back the read disk changed the DataVolume (-before +after):\n%s", diff)
	}

	// Without userinfo, no Secret, no secretRef, no annotation. (An update
	// never changes the source: validation refuses it, and CDI refuses any
	// change to a DataVolume's spec.)
	disk.Spec.Source.HTTP = &apps.HTTPDiskSource{URL: "https://images.example.com/x.img"}
	plain, err := DataVolumeFor(disk, nil)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Spec.Source.HTTP.SecretRef != "" || plain.Annotations[backendnames.URLUsernameAnnotation] != "" || CredentialsSecretFor(disk) != nil {
		t.Errorf("credentials left behind: %+v %v", plain.Spec.Source.HTTP, plain.Annotations)
	}
	if _, ok := plain.Annotations[backendnames.URLUsernameAnnotation]; ok {
		t.Error("the username annotation stayed")
	}
}
