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
	"fmt"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	appsv1alpha1 "github.com/cozystack/vm-apiserver/pkg/apis/apps/v1alpha1"
)

// TestHostileRequests sends over a hundred malformed, oversized or
// forbidden creates, updates and patches of both kinds. Each must be
// refused with the expected 4xx (for a 422, naming the field) and leave
// every DataVolume, VirtualMachine, Service and Secret of the namespace as
// it was: none created, changed or deleted.
func TestHostileRequests(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	disks := c.apps.AppsV1alpha1().VMDisks(ns)
	instances := c.apps.AppsV1alpha1().VMInstances(ns)
	rest := c.apps.AppsV1alpha1().RESTClient()
	key := sshKey(t)

	// The objects that updates aim at, and a Secret that is not
	// vm-apiserver's, whose name a disk's credentials Secret would take.
	if _, err := disks.Create(ctx, newDisk("base-disk", appsv1alpha1.VMDiskSpec{Storage: quantity("20Gi")}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := disks.Create(ctx, newDisk("base-http", appsv1alpha1.VMDiskSpec{Source: appsv1alpha1.VMDiskSource{HTTP: &appsv1alpha1.HTTPDiskSource{
		URL: "https://alice:hunter2@images.example.com/x.img", Headers: map[string]string{"Authorization": "Bearer t0ken", "Accept": "*/*"},
	}}}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := instances.Create(ctx, newInstance("base-vm", appsv1alpha1.VMInstanceSpec{
		External: true, ExternalPorts: []appsv1alpha1.ExternalPort{{Port: 22}},
		SSHKeys: []string{key}, CloudInit: "#cloud-config\npackages: [nginx]\n",
		Disks: []appsv1alpha1.VMInstanceDisk{{Name: "root", Size: quantity("10Gi")}, {Name: "base-disk"}},
	}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "taken-http-credentials"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// virt-controller makes the root disk's DataVolume from the VM's
	// template: snapshot the backend once it has.
	waitProvisioned(t, c, kubevirtClient(t), ns, "base-vm", []string{"root"})
	before := backendObjects(t, c, ns)

	// Requests.
	createDisk := func(name string, spec appsv1alpha1.VMDiskSpec) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := disks.Create(ctx, newDisk(name, spec), metav1.CreateOptions{})
			return err
		}
	}
	createDiskMeta := func(meta metav1.ObjectMeta) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := disks.Create(ctx, &appsv1alpha1.VMDisk{ObjectMeta: meta}, metav1.CreateOptions{})
			return err
		}
	}
	httpDisk := func(name string, src appsv1alpha1.HTTPDiskSource) func(context.Context) error {
		return createDisk(name, appsv1alpha1.VMDiskSpec{Source: appsv1alpha1.VMDiskSource{HTTP: &src}})
	}
	storage := func(name, size string) func(context.Context) error {
		return createDisk(name, appsv1alpha1.VMDiskSpec{Storage: quantity(size)})
	}
	updateDisk := func(name string, change func(*appsv1alpha1.VMDisk)) func(context.Context) error {
		return func(ctx context.Context) error {
			disk, err := disks.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("setup: %w", err)
			}
			change(disk)
			_, err = disks.Update(ctx, disk, metav1.UpdateOptions{})
			return err
		}
	}
	patchDisk := func(name string, pt types.PatchType, patch string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := disks.Patch(ctx, name, pt, []byte(patch), metav1.PatchOptions{})
			return err
		}
	}
	createVM := func(name string, spec appsv1alpha1.VMInstanceSpec) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := instances.Create(ctx, newInstance(name, spec), metav1.CreateOptions{})
			return err
		}
	}
	createVMMeta := func(meta metav1.ObjectMeta) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := instances.Create(ctx, &appsv1alpha1.VMInstance{ObjectMeta: meta}, metav1.CreateOptions{})
			return err
		}
	}
	resources := func(name, cpu, memory string) func(context.Context) error {
		r := &appsv1alpha1.VMResources{}
		if cpu != "" {
			r.CPU = quantity(cpu)
		}
		if memory != "" {
			r.Memory = quantity(memory)
		}
		return createVM(name, appsv1alpha1.VMInstanceSpec{Resources: r})
	}
	diskSize := func(name, size string) func(context.Context) error {
		return createVM(name, appsv1alpha1.VMInstanceSpec{Disks: []appsv1alpha1.VMInstanceDisk{{Name: "root", Size: quantity(size)}}})
	}
	ports := func(name string, p ...appsv1alpha1.ExternalPort) func(context.Context) error {
		return createVM(name, appsv1alpha1.VMInstanceSpec{External: true, ExternalPorts: p})
	}
	updateVM := func(change func(*appsv1alpha1.VMInstance)) func(context.Context) error {
		return func(ctx context.Context) error {
			inst, err := instances.Get(ctx, "base-vm", metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("setup: %w", err)
			}
			change(inst)
			_, err = instances.Update(ctx, inst, metav1.UpdateOptions{})
			return err
		}
	}
	patchVM := func(pt types.PatchType, patch string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := instances.Patch(ctx, "base-vm", pt, []byte(patch), metav1.PatchOptions{})
			return err
		}
	}
	// raw sends body as is, for what the typed client cannot express.
	raw := func(method, resource, name, body string, params ...string) func(context.Context) error {
		return func(ctx context.Context) error {
			req := rest.Verb(method).Namespace(ns).Resource(resource).Body([]byte(body)).SetHeader("Content-Type", "application/json")
			if name != "" {
				req = req.Name(name)
			}
			for i := 0; i+1 < len(params); i += 2 {
				req = req.Param(params[i], params[i+1])
			}
			return req.Do(ctx).Error()
		}
	}
	list := func(resource, fieldSelector string) func(context.Context) error {
		return func(ctx context.Context) error {
			return rest.Get().Namespace(ns).Resource(resource).Param("fieldSelector", fieldSelector).Do(ctx).Error()
		}
	}

	manyPorts := make([]appsv1alpha1.ExternalPort, 65)
	for i := range manyPorts {
		manyPorts[i] = appsv1alpha1.ExternalPort{Port: int32(1000 + i)}
	}
	manyPortsJSON, _ := json.Marshal(manyPorts)
	manyDisks := make([]appsv1alpha1.VMInstanceDisk, 33)
	for i := range manyDisks {
		manyDisks[i] = appsv1alpha1.VMInstanceDisk{Name: fmt.Sprintf("d%d", i), Size: quantity("1Gi")}
	}
	manyKeys := make([]string, 33)
	for i := range manyKeys {
		manyKeys[i] = key
	}
	manyKeysJSON, _ := json.Marshal(manyKeys)
	manyHeaders := map[string]string{}
	for i := range 33 {
		manyHeaders[fmt.Sprintf("X-H%d", i)] = "v"
	}
	const (
		invalid    = http.StatusUnprocessableEntity
		badRequest = http.StatusBadRequest
		conflict   = http.StatusConflict
		notFound   = http.StatusNotFound
	)
	reserved := "vm.apps.cozystack.io/kind"

	cases := []hostileCase{
		// VMDisk: names and metadata.
		{"disk-name-uppercase", createDisk("Disk", appsv1alpha1.VMDiskSpec{}), invalid, "metadata.name"},
		{"disk-name-underscore", createDisk("my_disk", appsv1alpha1.VMDiskSpec{}), invalid, "metadata.name"},
		{"disk-name-dots", createDisk("a.b", appsv1alpha1.VMDiskSpec{}), invalid, "metadata.name"},
		{"disk-name-64-chars", createDisk(strings.Repeat("d", 64), appsv1alpha1.VMDiskSpec{}), invalid, "metadata.name"},
		{"disk-name-leading-dash", createDisk("-disk", appsv1alpha1.VMDiskSpec{}), invalid, "metadata.name"},
		{"disk-no-name", createDiskMeta(metav1.ObjectMeta{}), invalid, "metadata.name"},
		{"disk-reserved-label", createDiskMeta(metav1.ObjectMeta{Name: "r1", Labels: map[string]string{reserved: "VMDisk"}}), invalid, "metadata.labels[" + reserved + "]"},
		{"disk-reserved-annotation", createDiskMeta(metav1.ObjectMeta{Name: "r2", Annotations: map[string]string{"vm.apps.cozystack.io/optical": "true"}}), invalid, "metadata.annotations[vm.apps.cozystack.io/optical]"},
		{"disk-reserved-managed-fields-annotation", createDiskMeta(metav1.ObjectMeta{Name: "r3", Annotations: map[string]string{"vm.apps.cozystack.io/managed-fields": "[]"}}), invalid, "metadata.annotations[vm.apps.cozystack.io/managed-fields]"},
		{"disk-reserved-url-username-annotation", createDiskMeta(metav1.ObjectMeta{Name: "r4", Annotations: map[string]string{"vm.apps.cozystack.io/url-username": "mallory"}}), invalid, "metadata.annotations[vm.apps.cozystack.io/url-username]"},
		{"disk-bad-label-value", createDiskMeta(metav1.ObjectMeta{Name: "r5", Labels: map[string]string{"app": "has space"}}), invalid, "metadata.labels"},
		{"disk-annotations-too-large", createDiskMeta(metav1.ObjectMeta{Name: "r6", Annotations: map[string]string{"big": strings.Repeat("x", 256<<10)}}), invalid, "metadata.annotations"},
		{"disk-name-taken", createDisk("base-disk", appsv1alpha1.VMDiskSpec{}), conflict, ""},
		{"disk-name-taken-with-credentials", httpDisk("base-http", appsv1alpha1.HTTPDiskSource{URL: "https://bob:pw@example.com/y.img"}), conflict, ""},
		{"disk-credentials-secret-name-taken", httpDisk("taken", appsv1alpha1.HTTPDiskSource{URL: "https://bob:pw@example.com/y.img", Headers: map[string]string{"Authorization": "Bearer x"}}), conflict, ""},

		// VMDisk: sizes.
		{"disk-storage-1e3000", storage("s1", "1e3000"), invalid, "spec.storage"},
		{"disk-storage-1e100", storage("s2", "1e100"), invalid, "spec.storage"},
		{"disk-storage-half-byte", storage("s3", "0.5"), invalid, "spec.storage"},
		{"disk-storage-millibytes", storage("s4", "1500m"), invalid, "spec.storage"},
		{"disk-storage-2Pi", storage("s5", "2Pi"), invalid, "spec.storage"},
		{"disk-storage-zero", storage("s6", "0"), invalid, "spec.storage"},
		{"disk-storage-negative", storage("s7", "-1Gi"), invalid, "spec.storage"},
		{"disk-storage-not-a-quantity", raw("POST", "vmdisks", "", `{"apiVersion":"apps.cozystack.io/v1alpha1","kind":"VMDisk","metadata":{"name":"s8"},"spec":{"storage":"lots"}}`), badRequest, ""},
		{"disk-storage-class-invalid", createDisk("s9", appsv1alpha1.VMDiskSpec{StorageClass: "Not_A_Class"}), invalid, "spec.storageClass"},

		// VMDisk: sources.
		{"disk-two-sources", createDisk("src1", appsv1alpha1.VMDiskSpec{Source: appsv1alpha1.VMDiskSource{
			HTTP: &appsv1alpha1.HTTPDiskSource{URL: "https://example.com/a.img"}, Registry: &appsv1alpha1.RegistryDiskSource{URL: "docker://quay.io/a/b"}}}), invalid, "spec.source"},
		{"disk-ftp-url", httpDisk("src2", appsv1alpha1.HTTPDiskSource{URL: "ftp://example.com/a.img"}), invalid, "spec.source.http.url"},
		{"disk-file-url", httpDisk("src3", appsv1alpha1.HTTPDiskSource{URL: "file:///etc/shadow"}), invalid, "spec.source.http.url"},
		{"disk-url-without-host", httpDisk("src4", appsv1alpha1.HTTPDiskSource{URL: "https:///a.img"}), invalid, "spec.source.http.url"},
		{"disk-url-empty", httpDisk("src5", appsv1alpha1.HTTPDiskSource{}), invalid, "spec.source.http.url"},
		{"disk-url-too-long", httpDisk("src6", appsv1alpha1.HTTPDiskSource{URL: "https://example.com/" + strings.Repeat("a", 9000)}), invalid, "spec.source.http.url"},
		{"disk-url-user-without-password", httpDisk("src7", appsv1alpha1.HTTPDiskSource{URL: "https://alice@example.com/a.img"}), invalid, "spec.source.http.url"},
		{"disk-url-empty-password", httpDisk("src8", appsv1alpha1.HTTPDiskSource{URL: "https://alice:@example.com/a.img"}), invalid, "spec.source.http.url"},
		{"disk-url-password-without-user", httpDisk("src9", appsv1alpha1.HTTPDiskSource{URL: "https://:pw@example.com/a.img"}), invalid, "spec.source.http.url"},
		{"disk-url-redacted-password", httpDisk("src10", appsv1alpha1.HTTPDiskSource{URL: "https://alice:(redacted)@example.com/a.img"}), invalid, "spec.source.http.url"},
		{"disk-header-redacted-value", httpDisk("src11", appsv1alpha1.HTTPDiskSource{URL: "https://example.com/a.img", Headers: map[string]string{"Authorization": "(redacted: kept in a Secret)"}}), invalid, "spec.source.http.headers[Authorization]"},
		{"disk-header-bad-name", httpDisk("src12", appsv1alpha1.HTTPDiskSource{URL: "https://example.com/a.img", Headers: map[string]string{"Bad Header": "x"}}), invalid, "spec.source.http.headers[Bad Header]"},
		{"disk-header-newline-injection", httpDisk("src13", appsv1alpha1.HTTPDiskSource{URL: "https://example.com/a.img", Headers: map[string]string{"X-A": "a\r\nHost: evil"}}), invalid, "spec.source.http.headers[X-A]"},
		{"disk-33-headers", httpDisk("src14", appsv1alpha1.HTTPDiskSource{URL: "https://example.com/a.img", Headers: manyHeaders}), invalid, "spec.source.http.headers"},
		{"disk-header-too-long", httpDisk("src15", appsv1alpha1.HTTPDiskSource{URL: "https://example.com/a.img", Headers: map[string]string{"X-A": strings.Repeat("a", 9000)}}), invalid, "spec.source.http.headers[X-A]"},
		{"disk-checksum-short", httpDisk("src16", appsv1alpha1.HTTPDiskSource{URL: "https://example.com/a.img", Checksum: "sha256:abc"}), invalid, "spec.source.http.checksum"},
		{"disk-checksum-crc32", httpDisk("src17", appsv1alpha1.HTTPDiskSource{URL: "https://example.com/a.img", Checksum: "crc32:deadbeef"}), invalid, "spec.source.http.checksum"},
		{"disk-registry-without-docker", createDisk("src18", appsv1alpha1.VMDiskSpec{Source: appsv1alpha1.VMDiskSource{Registry: &appsv1alpha1.RegistryDiskSource{URL: "quay.io/a/b"}}}), invalid, "spec.source.registry.url"},
		{"disk-registry-empty-image", createDisk("src19", appsv1alpha1.VMDiskSpec{Source: appsv1alpha1.VMDiskSource{Registry: &appsv1alpha1.RegistryDiskSource{URL: "docker://"}}}), invalid, "spec.source.registry.url"},
		{"disk-pvc-without-name", createDisk("src20", appsv1alpha1.VMDiskSpec{Source: appsv1alpha1.VMDiskSource{PVC: &appsv1alpha1.PVCDiskSource{}}}), invalid, "spec.source.pvc.name"},
		{"disk-snapshot-bad-namespace", createDisk("src21", appsv1alpha1.VMDiskSpec{Source: appsv1alpha1.VMDiskSource{Snapshot: &appsv1alpha1.SnapshotDiskSource{Name: "s", Namespace: "Bad_NS"}}}), invalid, "spec.source.snapshot.namespace"},

		// VMDisk: request bodies.
		{"disk-unknown-field-strict", raw("POST", "vmdisks", "", `{"apiVersion":"apps.cozystack.io/v1alpha1","kind":"VMDisk","metadata":{"name":"b1"},"spec":{"sizee":"1Gi"}}`, "fieldValidation", "Strict"), badRequest, ""},
		{"disk-body-not-json", raw("POST", "vmdisks", "", `{"apiVersion":`), badRequest, ""},
		{"disk-body-wrong-kind", raw("POST", "vmdisks", "", `{"apiVersion":"apps.cozystack.io/v1alpha1","kind":"VMInstance","metadata":{"name":"b2"}}`), badRequest, ""},
		{"disk-body-other-namespace", raw("POST", "vmdisks", "", `{"apiVersion":"apps.cozystack.io/v1alpha1","kind":"VMDisk","metadata":{"name":"b3","namespace":"kube-system"}}`), badRequest, ""},
		{"disk-optical-not-bool", raw("POST", "vmdisks", "", `{"apiVersion":"apps.cozystack.io/v1alpha1","kind":"VMDisk","metadata":{"name":"b4"},"spec":{"optical":"yes"}}`), badRequest, ""},
		{"disk-update-name-mismatch", raw("PUT", "vmdisks", "base-disk", `{"apiVersion":"apps.cozystack.io/v1alpha1","kind":"VMDisk","metadata":{"name":"other"}}`), badRequest, ""},
		{"disk-unknown-field-selector", list("vmdisks", "spec.secret=x"), badRequest, ""},

		// VMDisk: updates and patches.
		{"disk-shrink", updateDisk("base-disk", func(d *appsv1alpha1.VMDisk) { d.Spec.Storage = quantity("10Gi") }), invalid, "spec.storage"},
		{"disk-shrink-merge-patch", patchDisk("base-disk", types.MergePatchType, `{"spec":{"storage":"1Gi"}}`), invalid, "spec.storage"},
		{"disk-grow-to-1e3000", patchDisk("base-disk", types.MergePatchType, `{"spec":{"storage":"1e3000"}}`), invalid, "spec.storage"},
		{"disk-grow-to-2Pi", patchDisk("base-disk", types.MergePatchType, `{"spec":{"storage":"2Pi"}}`), invalid, "spec.storage"},
		{"disk-grow-by-half-a-byte", patchDisk("base-disk", types.MergePatchType, `{"spec":{"storage":"21474836480.5"}}`), invalid, "spec.storage"},
		{"disk-change-storage-class", updateDisk("base-disk", func(d *appsv1alpha1.VMDisk) { d.Spec.StorageClass = "local" }), invalid, "spec.storageClass"},
		{"disk-change-storage-class-json-patch", patchDisk("base-disk", types.JSONPatchType, `[{"op":"replace","path":"/spec/storageClass","value":"fast"}]`), invalid, "spec.storageClass"},
		{"disk-add-source", updateDisk("base-disk", func(d *appsv1alpha1.VMDisk) {
			d.Spec.Source.HTTP = &appsv1alpha1.HTTPDiskSource{URL: "https://example.com/a.img"}
		}), invalid, "spec.source"},
		{"disk-change-url", patchDisk("base-http", types.MergePatchType, `{"spec":{"source":{"http":{"url":"https://alice:hunter2@images.example.com/other.img"}}}}`), invalid, "spec.source"},
		{"disk-change-url-username", patchDisk("base-http", types.MergePatchType, `{"spec":{"source":{"http":{"url":"https://mallory:hunter2@images.example.com/x.img"}}}}`), invalid, "spec.source"},
		{"disk-drop-url-userinfo", patchDisk("base-http", types.JSONPatchType, `[{"op":"replace","path":"/spec/source/http/url","value":"https://images.example.com/x.img"}]`), invalid, "spec.source"},
		{"disk-add-header", patchDisk("base-http", types.MergePatchType, `{"spec":{"source":{"http":{"headers":{"X-New":"1"}}}}}`), invalid, "spec.source"},
		{"disk-remove-credential-header", patchDisk("base-http", types.JSONPatchType, `[{"op":"remove","path":"/spec/source/http/headers/Authorization"}]`), invalid, "spec.source"},
		{"disk-source-to-registry", patchDisk("base-http", types.MergePatchType, `{"spec":{"source":{"http":null,"registry":{"url":"docker://quay.io/a/b"}}}}`), invalid, "spec.source"},
		{"disk-patch-reserved-label", patchDisk("base-disk", types.MergePatchType, `{"metadata":{"labels":{"`+reserved+`":"VMInstance"}}}`), invalid, "metadata.labels[" + reserved + "]"},
		{"disk-patch-reserved-annotation", patchDisk("base-disk", types.MergePatchType, `{"metadata":{"annotations":{"vm.apps.cozystack.io/secret-headers":"Authorization"}}}`), invalid, "metadata.annotations[vm.apps.cozystack.io/secret-headers]"},
		{"disk-stale-resource-version", updateDisk("base-disk", func(d *appsv1alpha1.VMDisk) { d.ResourceVersion = "1"; d.Labels = map[string]string{"x": "y"} }), conflict, ""},
		{"disk-update-missing", updateDisk("base-disk", func(d *appsv1alpha1.VMDisk) { d.Name = "missing"; d.ResourceVersion = "" }), notFound, ""},
		{"disk-patch-missing", patchDisk("missing", types.MergePatchType, `{"spec":{"optical":true}}`), notFound, ""},
		{"disk-json-patch-test-fails", patchDisk("base-disk", types.JSONPatchType, `[{"op":"test","path":"/spec/storage","value":"1Gi"},{"op":"replace","path":"/spec/storage","value":"30Gi"}]`), invalid, ""},
		{"disk-delete-wrong-uid", func(ctx context.Context) error {
			uid := types.UID("00000000-0000-0000-0000-000000000000")
			return disks.Delete(ctx, "base-disk", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		}, conflict, ""},
		{"disk-delete-missing", func(ctx context.Context) error { return disks.Delete(ctx, "missing", metav1.DeleteOptions{}) }, notFound, ""},

		// VMInstance: names and metadata.
		{"vm-name-starts-with-digit", createVM("1web", appsv1alpha1.VMInstanceSpec{}), invalid, "metadata.name"},
		{"vm-name-uppercase", createVM("Web", appsv1alpha1.VMInstanceSpec{}), invalid, "metadata.name"},
		{"vm-name-dots", createVM("web.example", appsv1alpha1.VMInstanceSpec{}), invalid, "metadata.name"},
		{"vm-name-64-chars", createVM(strings.Repeat("v", 64), appsv1alpha1.VMInstanceSpec{}), invalid, "metadata.name"},
		{"vm-derived-disk-name-too-long", createVM(strings.Repeat("v", 55), appsv1alpha1.VMInstanceSpec{Disks: []appsv1alpha1.VMInstanceDisk{{Name: "root-disk", Size: quantity("1Gi")}}}), invalid, "spec.disks[0].name"},
		{"vm-reserved-label", createVMMeta(metav1.ObjectMeta{Name: "m1", Labels: map[string]string{"vm.apps.cozystack.io/instance": "base-vm"}}), invalid, "metadata.labels[vm.apps.cozystack.io/instance]"},
		{"vm-reserved-annotation", createVMMeta(metav1.ObjectMeta{Name: "m2", Annotations: map[string]string{"vm.apps.cozystack.io/profile": "ubuntu"}}), invalid, "metadata.annotations[vm.apps.cozystack.io/profile]"},
		{"vm-name-taken", createVM("base-vm", appsv1alpha1.VMInstanceSpec{}), conflict, ""},

		// VMInstance: sizing.
		{"vm-unknown-instance-type", createVM("t1", appsv1alpha1.VMInstanceSpec{InstanceType: "z9.huge"}), invalid, "spec.instanceType"},
		{"vm-instance-type-bad-name", createVM("t2", appsv1alpha1.VMInstanceSpec{InstanceType: "Bad_Type"}), invalid, "spec.instanceType"},
		{"vm-unknown-profile", createVM("t3", appsv1alpha1.VMInstanceSpec{InstanceProfile: "plan9"}), invalid, "spec.instanceProfile"},
		{"vm-profile-bad-name", createVM("t4", appsv1alpha1.VMInstanceSpec{InstanceProfile: "Ubuntu_22"}), invalid, "spec.instanceProfile"},
		{"vm-cpu-zero", resources("c1", "0", ""), invalid, "spec.resources.cpu"},
		{"vm-cpu-negative", resources("c2", "-1", ""), invalid, "spec.resources.cpu"},
		{"vm-cpu-half", resources("c3", "0.5", ""), invalid, "spec.resources.cpu"},
		{"vm-cpu-millicores", resources("c4", "1500m", ""), invalid, "spec.resources.cpu"},
		{"vm-cpu-513", resources("c5", "513", ""), invalid, "spec.resources.cpu"},
		{"vm-cpu-1e3000", resources("c6", "1e3000", ""), invalid, "spec.resources.cpu"},
		{"vm-cpu-1e100", resources("c7", "1e100", ""), invalid, "spec.resources.cpu"},
		{"vm-memory-zero", resources("c8", "", "0"), invalid, "spec.resources.memory"},
		{"vm-memory-half-byte", resources("c9", "", "0.5"), invalid, "spec.resources.memory"},
		{"vm-memory-1e3000", resources("c10", "", "1e3000"), invalid, "spec.resources.memory"},
		{"vm-memory-1e100", resources("c11", "", "1e100"), invalid, "spec.resources.memory"},
		{"vm-memory-17Ti", resources("c12", "", "17Ti"), invalid, "spec.resources.memory"},
		{"vm-memory-below-1Mi", resources("c13", "", "512Ki"), invalid, "spec.resources.memory"},
		{"vm-memory-negative", resources("c14", "", "-1Gi"), invalid, "spec.resources.memory"},
		{"vm-resources-without-type-or-memory", createVM("c15", appsv1alpha1.VMInstanceSpec{InstanceType: "", Resources: &appsv1alpha1.VMResources{CPU: quantity("2")}}), invalid, "spec.resources.memory"},
		{"vm-memory-not-a-quantity", raw("POST", "vminstances", "", `{"apiVersion":"apps.cozystack.io/v1alpha1","kind":"VMInstance","metadata":{"name":"c16"},"spec":{"resources":{"memory":"much"}}}`), badRequest, ""},

		// VMInstance: disks.
		{"vm-disk-size-1e3000", diskSize("d1", "1e3000"), invalid, "spec.disks[0].size"},
		{"vm-disk-size-1e100", diskSize("d2", "1e100"), invalid, "spec.disks[0].size"},
		{"vm-disk-size-half-byte", diskSize("d3", "0.5"), invalid, "spec.disks[0].size"},
		{"vm-disk-size-2Pi", diskSize("d4", "2Pi"), invalid, "spec.disks[0].size"},
		{"vm-disk-size-zero", diskSize("d5", "0"), invalid, "spec.disks[0].size"},
		{"vm-disk-size-negative", diskSize("d6", "-10Gi"), invalid, "spec.disks[0].size"},
		{"vm-33-disks", createVM("d7", appsv1alpha1.VMInstanceSpec{Disks: manyDisks}), invalid, "spec.disks"},
		{"vm-duplicate-disks", createVM("d8", appsv1alpha1.VMInstanceSpec{Disks: []appsv1alpha1.VMInstanceDisk{{Name: "root", Size: quantity("1Gi")}, {Name: "root", Size: quantity("2Gi")}}}), invalid, "spec.disks[1].name"},
		{"vm-disk-name-invalid", createVM("d9", appsv1alpha1.VMInstanceSpec{Disks: []appsv1alpha1.VMInstanceDisk{{Name: "Root_Disk", Size: quantity("1Gi")}}}), invalid, "spec.disks[0].name"},
		{"vm-disk-named-like-cloud-init", createVM("d10", appsv1alpha1.VMInstanceSpec{Disks: []appsv1alpha1.VMInstanceDisk{{Name: "cloudinit", Size: quantity("1Gi")}}}), invalid, "spec.disks[0].name"},
		{"vm-disk-bus-ide", createVM("d11", appsv1alpha1.VMInstanceSpec{Disks: []appsv1alpha1.VMInstanceDisk{{Name: "root", Size: quantity("1Gi"), Bus: "ide"}}}), invalid, "spec.disks[0].bus"},
		{"vm-disk-missing-vmdisk", createVM("d12", appsv1alpha1.VMInstanceSpec{Disks: []appsv1alpha1.VMInstanceDisk{{Name: "nowhere"}}}), invalid, "spec.disks[0].name"},
		{"vm-disk-class-on-attachment", createVM("d13", appsv1alpha1.VMInstanceSpec{Disks: []appsv1alpha1.VMInstanceDisk{{Name: "base-disk", StorageClass: "local"}}}), invalid, "spec.disks[0].storageClass"},
		{"vm-disk-class-invalid", createVM("d14", appsv1alpha1.VMInstanceSpec{Disks: []appsv1alpha1.VMInstanceDisk{{Name: "root", Size: quantity("1Gi"), StorageClass: "Local!"}}}), invalid, "spec.disks[0].storageClass"},

		// VMInstance: ports.
		{"vm-port-zero", ports("p1", appsv1alpha1.ExternalPort{Port: 0}), invalid, "spec.externalPorts[0].port"},
		{"vm-port-negative", ports("p2", appsv1alpha1.ExternalPort{Port: -22}), invalid, "spec.externalPorts[0].port"},
		{"vm-port-65536", ports("p3", appsv1alpha1.ExternalPort{Port: 65536}), invalid, "spec.externalPorts[0].port"},
		{"vm-protocol-sctp", ports("p4", appsv1alpha1.ExternalPort{Port: 22, Protocol: "SCTP"}), invalid, "spec.externalPorts[0].protocol"},
		{"vm-protocol-lower-case", ports("p5", appsv1alpha1.ExternalPort{Port: 22, Protocol: "tcp"}), invalid, "spec.externalPorts[0].protocol"},
		{"vm-protocol-http", ports("p6", appsv1alpha1.ExternalPort{Port: 80, Protocol: "HTTP"}), invalid, "spec.externalPorts[0].protocol"},
		{"vm-target-port-70000", ports("p7", appsv1alpha1.ExternalPort{Port: 22, TargetPort: 70000}), invalid, "spec.externalPorts[0].targetPort"},
		{"vm-target-port-negative", ports("p8", appsv1alpha1.ExternalPort{Port: 22, TargetPort: -1}), invalid, "spec.externalPorts[0].targetPort"},
		{"vm-duplicate-port", ports("p9", appsv1alpha1.ExternalPort{Port: 22}, appsv1alpha1.ExternalPort{Port: 22, Protocol: "TCP"}), invalid, "spec.externalPorts[1]"},
		{"vm-65-ports", ports("p10", manyPorts...), invalid, "spec.externalPorts"},
		{"vm-65-ports-not-external", createVM("p11", appsv1alpha1.VMInstanceSpec{ExternalPorts: manyPorts}), invalid, "spec.externalPorts"},
		{"vm-port-not-a-number", raw("POST", "vminstances", "", `{"apiVersion":"apps.cozystack.io/v1alpha1","kind":"VMInstance","metadata":{"name":"p12"},"spec":{"externalPorts":[{"port":"ssh"}]}}`), badRequest, ""},

		// VMInstance: SSH keys and cloud-init.
		{"vm-ssh-key-garbage", createVM("k1", appsv1alpha1.VMInstanceSpec{SSHKeys: []string{"not a key"}}), invalid, "spec.sshKeys[0]"},
		{"vm-ssh-key-placeholder", createVM("k2", appsv1alpha1.VMInstanceSpec{SSHKeys: []string{"ssh-rsa AAAA... user@host"}}), invalid, "spec.sshKeys[0]"},
		{"vm-ssh-key-empty", createVM("k3", appsv1alpha1.VMInstanceSpec{SSHKeys: []string{key, " "}}), invalid, "spec.sshKeys[1]"},
		{"vm-ssh-two-keys-in-one", createVM("k4", appsv1alpha1.VMInstanceSpec{SSHKeys: []string{key + "\n" + key}}), invalid, "spec.sshKeys[0]"},
		{"vm-ssh-bad-line-before-good", createVM("k5", appsv1alpha1.VMInstanceSpec{SSHKeys: []string{"garbage\n" + key}}), invalid, "spec.sshKeys[0]"},
		{"vm-ssh-key-too-long", createVM("k6", appsv1alpha1.VMInstanceSpec{SSHKeys: []string{key + " " + strings.Repeat("c", 17<<10)}}), invalid, "spec.sshKeys[0]"},
		{"vm-33-ssh-keys", createVM("k7", appsv1alpha1.VMInstanceSpec{SSHKeys: manyKeys}), invalid, "spec.sshKeys"},
		{"vm-cloud-config-bad-yaml", createVM("k8", appsv1alpha1.VMInstanceSpec{CloudInit: "#cloud-config\nusers: [unclosed\n"}), invalid, "spec.cloudInit"},
		{"vm-cloud-config-list", createVM("k9", appsv1alpha1.VMInstanceSpec{CloudInit: "#cloud-config\n- a\n- b\n"}), invalid, "spec.cloudInit"},
		{"vm-cloud-config-scalar", createVM("k10", appsv1alpha1.VMInstanceSpec{CloudInit: "#cloud-config\nhello\n"}), invalid, "spec.cloudInit"},
		{"vm-cloud-config-tabs", createVM("k11", appsv1alpha1.VMInstanceSpec{CloudInit: "#cloud-config\nusers:\n\t- name: a\n"}), invalid, "spec.cloudInit"},
		{"vm-user-data-over-256KiB", createVM("k12", appsv1alpha1.VMInstanceSpec{CloudInit: "#!/bin/sh\n" + strings.Repeat("#", 256<<10)}), invalid, "spec.cloudInit"},

		// VMInstance: updates and patches.
		{"vm-shrink-inline-disk", updateVM(func(v *appsv1alpha1.VMInstance) { v.Spec.Disks[0].Size = quantity("5Gi") }), invalid, "spec.disks[0].size"},
		{"vm-change-inline-disk-class", updateVM(func(v *appsv1alpha1.VMInstance) { v.Spec.Disks[0].StorageClass = "local" }), invalid, "spec.disks[0].storageClass"},
		{"vm-grow-inline-disk-to-1e3000", updateVM(func(v *appsv1alpha1.VMInstance) { v.Spec.Disks[0].Size = quantity("1e3000") }), invalid, "spec.disks[0].size"},
		{"vm-update-65-ports", updateVM(func(v *appsv1alpha1.VMInstance) { v.Spec.ExternalPorts = manyPorts }), invalid, "spec.externalPorts"},
		{"vm-patch-65-ports", patchVM(types.MergePatchType, `{"spec":{"externalPorts":`+string(manyPortsJSON)+`}}`), invalid, "spec.externalPorts"},
		{"vm-patch-33-keys", patchVM(types.MergePatchType, `{"spec":{"sshKeys":`+string(manyKeysJSON)+`}}`), invalid, "spec.sshKeys"},
		{"vm-patch-bad-key", patchVM(types.JSONPatchType, `[{"op":"add","path":"/spec/sshKeys/-","value":"ssh-ed25519 AAAA"}]`), invalid, "spec.sshKeys[1]"},
		{"vm-patch-duplicate-port", patchVM(types.MergePatchType, `{"spec":{"externalPorts":[{"port":22,"protocol":"TCP","targetPort":2222},{"port":22,"protocol":"TCP","targetPort":22}]}}`), invalid, "spec.externalPorts[1]"},
		{"vm-patch-memory-1e3000", patchVM(types.MergePatchType, `{"spec":{"resources":{"memory":"1e3000"}}}`), invalid, "spec.resources.memory"},
		{"vm-patch-cpu-half", patchVM(types.MergePatchType, `{"spec":{"resources":{"cpu":"0.5"}}}`), invalid, "spec.resources.cpu"},
		{"vm-patch-unknown-instance-type", patchVM(types.MergePatchType, `{"spec":{"instanceType":"z9.huge"}}`), invalid, "spec.instanceType"},
		{"vm-patch-unknown-profile", patchVM(types.MergePatchType, `{"spec":{"instanceProfile":"plan9"}}`), invalid, "spec.instanceProfile"},
		{"vm-patch-bad-cloud-init", patchVM(types.MergePatchType, `{"spec":{"cloudInit":"#cloud-config\n- x\n"}}`), invalid, "spec.cloudInit"},
		{"vm-patch-reserved-label", patchVM(types.MergePatchType, `{"metadata":{"labels":{"`+reserved+`":"VMDisk"}}}`), invalid, "metadata.labels[" + reserved + "]"},
		{"vm-patch-protocol", patchVM(types.JSONPatchType, `[{"op":"replace","path":"/spec/externalPorts/0/protocol","value":"ICMP"}]`), invalid, "spec.externalPorts[0].protocol"},
		{"vm-patch-missing-disk", patchVM(types.JSONPatchType, `[{"op":"add","path":"/spec/disks/-","value":{"name":"nowhere"}}]`), invalid, "spec.disks[2].name"},
		{"vm-stale-resource-version", updateVM(func(v *appsv1alpha1.VMInstance) { v.ResourceVersion = "1"; v.Spec.Running = ptr.To(false) }), conflict, ""},
		{"vm-update-name-mismatch", raw("PUT", "vminstances", "base-vm", `{"apiVersion":"apps.cozystack.io/v1alpha1","kind":"VMInstance","metadata":{"name":"other"}}`), badRequest, ""},
		{"vm-patch-missing", func(ctx context.Context) error {
			_, err := instances.Patch(ctx, "missing", types.MergePatchType, []byte(`{"spec":{"running":false}}`), metav1.PatchOptions{})
			return err
		}, notFound, ""},
		{"vm-unknown-field-strict", raw("POST", "vminstances", "", `{"apiVersion":"apps.cozystack.io/v1alpha1","kind":"VMInstance","metadata":{"name":"u1"},"spec":{"cpus":4}}`, "fieldValidation", "Strict"), badRequest, ""},
		{"vm-unknown-field-selector", list("vminstances", "spec.cloudInit=x"), badRequest, ""},
	}
	if len(cases) < 100 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do(ctx)
			assertRefused(t, err, tc.code, tc.field)
			if diff := diffBackendObjects(before, backendObjects(t, c, ns)); diff != "" {
				t.Fatalf("backend objects changed: %s", diff)
			}
		})
	}
}
