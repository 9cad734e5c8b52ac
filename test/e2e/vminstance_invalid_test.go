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

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	appsv1alpha1 "github.com/cozystack/vm-apiserver/pkg/apis/apps/v1alpha1"
)

// TestInvalidVMInstances checks that each invalid VMInstance is refused with
// a 422 naming the field and leaves no backend object.
func TestInvalidVMInstances(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	size := func(s string) *resource.Quantity { return quantity(s) }
	port := func(p appsv1alpha1.ExternalPort) appsv1alpha1.VMInstanceSpec {
		return appsv1alpha1.VMInstanceSpec{External: true, ExternalPorts: []appsv1alpha1.ExternalPort{p}}
	}
	cases := []struct {
		name   string
		vmName string
		spec   appsv1alpha1.VMInstanceSpec
		labels map[string]string
		field  string
	}{
		{name: "name-starts-with-digit", vmName: "1web", field: "metadata.name"},
		{name: "derived-disk-name-too-long", vmName: strings.Repeat("a", 55), spec: appsv1alpha1.VMInstanceSpec{
			Disks: []appsv1alpha1.VMInstanceDisk{{Name: "root-disk", Size: size("10Gi")}}}, field: "spec.disks[0].name"},
		{name: "unknown-instance-type", spec: appsv1alpha1.VMInstanceSpec{InstanceType: "z9.huge"}, field: "spec.instanceType"},
		{name: "invalid-instance-type-name", spec: appsv1alpha1.VMInstanceSpec{InstanceType: "Bad_Type"}, field: "spec.instanceType"},
		{name: "unknown-profile", spec: appsv1alpha1.VMInstanceSpec{InstanceProfile: "plan9"}, field: "spec.instanceProfile"},
		{name: "zero-cpu", spec: appsv1alpha1.VMInstanceSpec{Resources: &appsv1alpha1.VMResources{CPU: size("0")}}, field: "spec.resources.cpu"},
		{name: "fractional-cpu", spec: appsv1alpha1.VMInstanceSpec{Resources: &appsv1alpha1.VMResources{CPU: size("1500m")}}, field: "spec.resources.cpu"},
		{name: "negative-memory", spec: appsv1alpha1.VMInstanceSpec{Resources: &appsv1alpha1.VMResources{Memory: size("-1Gi")}}, field: "spec.resources.memory"},
		{name: "resources-without-memory-or-type", spec: appsv1alpha1.VMInstanceSpec{InstanceType: "", Resources: &appsv1alpha1.VMResources{CPU: size("2")}}, field: "spec.resources.memory"},
		{name: "disk-name-not-a-label", spec: appsv1alpha1.VMInstanceSpec{Disks: []appsv1alpha1.VMInstanceDisk{{Name: "Root_Disk", Size: size("1Gi")}}}, field: "spec.disks[0].name"},
		{name: "duplicate-disk-names", spec: appsv1alpha1.VMInstanceSpec{Disks: []appsv1alpha1.VMInstanceDisk{
			{Name: "root", Size: size("1Gi")}, {Name: "root", Size: size("2Gi")}}}, field: "spec.disks[1].name"},
		{name: "zero-disk-size", spec: appsv1alpha1.VMInstanceSpec{Disks: []appsv1alpha1.VMInstanceDisk{{Name: "root", Size: size("0")}}}, field: "spec.disks[0].size"},
		{name: "unknown-bus", spec: appsv1alpha1.VMInstanceSpec{Disks: []appsv1alpha1.VMInstanceDisk{{Name: "root", Size: size("1Gi"), Bus: "ide"}}}, field: "spec.disks[0].bus"},
		{name: "missing-vmdisk", spec: appsv1alpha1.VMInstanceSpec{Disks: []appsv1alpha1.VMInstanceDisk{{Name: "nowhere"}}}, field: "spec.disks[0].name"},
		{name: "storage-class-on-attached-disk", spec: appsv1alpha1.VMInstanceSpec{Disks: []appsv1alpha1.VMInstanceDisk{{Name: "data", StorageClass: "local"}}}, field: "spec.disks[0].storageClass"},
		{name: "disk-named-like-cloud-init-volume", spec: appsv1alpha1.VMInstanceSpec{Disks: []appsv1alpha1.VMInstanceDisk{{Name: "cloudinit", Size: size("1Gi")}}}, field: "spec.disks[0].name"},
		{name: "port-zero", spec: port(appsv1alpha1.ExternalPort{Port: 0}), field: "spec.externalPorts[0].port"},
		{name: "port-too-high", spec: port(appsv1alpha1.ExternalPort{Port: 70000}), field: "spec.externalPorts[0].port"},
		{name: "protocol-sctp", spec: port(appsv1alpha1.ExternalPort{Port: 22, Protocol: "SCTP"}), field: "spec.externalPorts[0].protocol"},
		{name: "target-port-too-high", spec: port(appsv1alpha1.ExternalPort{Port: 22, TargetPort: 70000}), field: "spec.externalPorts[0].targetPort"},
		{name: "duplicate-port", spec: appsv1alpha1.VMInstanceSpec{External: true, ExternalPorts: []appsv1alpha1.ExternalPort{{Port: 22}, {Port: 22, Protocol: "TCP"}}}, field: "spec.externalPorts[1]"},
		{name: "ssh-key-garbage", spec: appsv1alpha1.VMInstanceSpec{SSHKeys: []string{"not a key"}}, field: "spec.sshKeys[0]"},
		{name: "ssh-key-placeholder", spec: appsv1alpha1.VMInstanceSpec{SSHKeys: []string{"ssh-rsa AAAA... user@host"}}, field: "spec.sshKeys[0]"},
		{name: "cloud-config-invalid-yaml", spec: appsv1alpha1.VMInstanceSpec{CloudInit: "#cloud-config\nusers: [unclosed\n"}, field: "spec.cloudInit"},
		{name: "cloud-config-not-a-mapping", spec: appsv1alpha1.VMInstanceSpec{CloudInit: "#cloud-config\n- a\n- b\n"}, field: "spec.cloudInit"},
		{name: "reserved-label", labels: map[string]string{"vm.apps.cozystack.io/instance": "x"}, field: "metadata.labels[vm.apps.cozystack.io/instance]"},
	}
	if len(cases) < 25 {
		t.Fatalf("only %d cases", len(cases))
	}
	// An attached VMDisk for the storage-class case, so that only the class
	// is wrong.
	if _, err := c.apps.AppsV1alpha1().VMDisks(ns).Create(ctx, newDisk("data", appsv1alpha1.VMDiskSpec{}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := tc.vmName
			if name == "" {
				name = tc.name
			}
			inst := newInstance(name, tc.spec)
			inst.Labels = tc.labels
			_, err := c.apps.AppsV1alpha1().VMInstances(ns).Create(ctx, inst, metav1.CreateOptions{})
			assertInvalid(t, err, tc.field)
			assertNoBackendObjects(t, c, ns, name)
		})
	}

	t.Run("missing-os-image", func(t *testing.T) {
		const image = "../../artifacts/testing/os-images.yaml"
		t.Cleanup(func() { _, _ = env.Kubectl(context.Background(), "", "apply", "--server-side", "-f", image) })
		kubectl(t, "delete", "datasource", "-n", "kubevirt-os-images", "fedora")
		spec := appsv1alpha1.VMInstanceSpec{InstanceProfile: "fedora", Disks: []appsv1alpha1.VMInstanceDisk{{Name: "root", Size: size("10Gi")}}}
		_, err := c.apps.AppsV1alpha1().VMInstances(ns).Create(ctx, newInstance("no-image", spec), metav1.CreateOptions{})
		assertInvalid(t, err, "spec.instanceProfile")
		if !strings.Contains(err.Error(), "kubevirt-os-images/fedora") {
			t.Errorf("the error should name the missing image: %v", err)
		}
		assertNoBackendObjects(t, c, ns, "no-image")
	})

	t.Run("unknown-instance-type-lists-available", func(t *testing.T) {
		_, err := c.apps.AppsV1alpha1().VMInstances(ns).Create(ctx, newInstance("lists", appsv1alpha1.VMInstanceSpec{InstanceType: "z9.huge"}), metav1.CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), `"cx1.large"`) || !strings.Contains(err.Error(), `"u1.small"`) {
			t.Fatalf("the error should list the instance types that exist: %v", err)
		}
	})
}
