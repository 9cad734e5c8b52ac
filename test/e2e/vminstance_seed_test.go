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
	kubevirtv1 "kubevirt.io/api/core/v1"
	"kubevirt.io/client-go/kubevirt"
)

func kubevirtClient(t testing.TB) kubevirt.Interface {
	t.Helper()
	c, err := kubevirt.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSeedProductionVM applies the reference's production-vm.yaml and checks
// every backend object it makes, and what KubeVirt's and CDI's controllers
// make of them.
func TestSeedProductionVM(t *testing.T) {
	c := newClients(t)
	kv := kubevirtClient(t)
	ensureNamespace(t, c, "production")
	ctx := context.Background()
	file := example("production-vm.yaml")
	t.Cleanup(func() { _, _ = env.Kubectl(context.Background(), "", "delete", "--ignore-not-found", "-f", file) })
	if out := kubectl(t, "apply", "-f", file); !strings.Contains(out, "vminstance.apps.cozystack.io/production-web-server created") {
		t.Fatal(out)
	}
	const name = "production-web-server"

	vm, err := kv.KubevirtV1().VirtualMachines("production").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if vm.Spec.Instancetype == nil || vm.Spec.Instancetype.Name != "cx1.large" || vm.Spec.Instancetype.Kind != "VirtualMachineClusterInstancetype" {
		t.Errorf("instancetype: %+v", vm.Spec.Instancetype)
	}
	if vm.Spec.Preference == nil || vm.Spec.Preference.Name != "ubuntu" {
		t.Errorf("preference: %+v", vm.Spec.Preference)
	}
	if vm.Spec.RunStrategy == nil || *vm.Spec.RunStrategy != kubevirtv1.RunStrategyAlways {
		t.Errorf("runStrategy: %v", vm.Spec.RunStrategy)
	}
	if len(vm.Spec.DataVolumeTemplates) != 2 {
		t.Fatalf("dataVolumeTemplates: %+v", vm.Spec.DataVolumeTemplates)
	}
	root, data := vm.Spec.DataVolumeTemplates[0], vm.Spec.DataVolumeTemplates[1]
	if root.Name != name+"-root-disk" || root.Spec.SourceRef == nil || root.Spec.SourceRef.Kind != "DataSource" ||
		root.Spec.SourceRef.Name != "ubuntu" || *root.Spec.SourceRef.Namespace != "kubevirt-os-images" {
		t.Errorf("root disk should clone the ubuntu image: %+v", root)
	}
	assertStorage(t, root.Spec.Storage.Resources.Requests, *root.Spec.Storage.StorageClassName, "50Gi", "replicated")
	if data.Name != name+"-app-data" || data.Spec.Source == nil || data.Spec.Source.Blank == nil {
		t.Errorf("app-data should be blank: %+v", data)
	}
	assertStorage(t, data.Spec.Storage.Resources.Requests, *data.Spec.Storage.StorageClassName, "200Gi", "local")
	selectorLabel := vm.Spec.Template.ObjectMeta.Labels["vm.apps.cozystack.io/instance"]
	if selectorLabel != name {
		t.Errorf("the pod template lacks the label the Service selects: %v", vm.Spec.Template.ObjectMeta.Labels)
	}

	svc, err := c.kube.CoreV1().Services("production").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || svc.Spec.Selector["vm.apps.cozystack.io/instance"] != name {
		t.Errorf("service: %+v", svc.Spec)
	}
	var ports []string
	for _, p := range svc.Spec.Ports {
		ports = append(ports, string(p.Protocol)+"/"+p.TargetPort.String()+"/"+strings.TrimSpace(p.Name))
	}
	if strings.Join(ports, " ") != "TCP/22/tcp-22 TCP/80/tcp-80 TCP/443/tcp-443" {
		t.Errorf("service ports: %v", ports)
	}
	if len(svc.OwnerReferences) != 1 || svc.OwnerReferences[0].UID != vm.UID {
		t.Errorf("the Service is not owned by the VM: %+v", svc.OwnerReferences)
	}

	manifest := readFile(t, file)
	keys, err := c.kube.CoreV1().Secrets("production").Get(ctx, name+"-ssh-keys", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys.Data) != 2 || !strings.HasPrefix(string(keys.Data["key0"]), "ssh-rsa ") || !strings.HasPrefix(string(keys.Data["key1"]), "ssh-ed25519 ") {
		t.Errorf("ssh keys secret: %v", keys.Data)
	}
	userData, err := c.kube.CoreV1().Secrets("production").Get(ctx, name+"-cloud-init", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(userData.Data["userdata"]); !strings.HasPrefix(got, "#cloud-config\n") || !strings.Contains(manifest, "final_message") ||
		!strings.Contains(got, "final_message: \"Production VM déployée avec succès en $UPTIME secondes\"") {
		t.Errorf("cloud-init secret: %q", got)
	}
	volumes := map[string]kubevirtv1.Volume{}
	for _, v := range vm.Spec.Template.Spec.Volumes {
		volumes[v.Name] = v
	}
	if v := volumes["cloudinit"]; v.CloudInitNoCloud == nil || v.CloudInitNoCloud.UserDataSecretRef.Name != name+"-cloud-init" {
		t.Errorf("cloud-init volume: %+v", v)
	}
	creds := vm.Spec.Template.Spec.AccessCredentials
	if len(creds) != 1 || creds[0].SSHPublicKey.Source.Secret.SecretName != name+"-ssh-keys" || creds[0].SSHPublicKey.PropagationMethod.NoCloud == nil {
		t.Errorf("access credentials: %+v", creds)
	}

	// STATUS is KubeVirt's printableStatus, once virt-controller has
	// written one; IP and EXTERNAL-IP stay empty (no node, no load
	// balancer).
	var rows [][]string
	eventually(t, "a STATUS column", func() (bool, string) {
		rows = tableRows(t, kubectl(t, "get", "vminstance", "-n", "production"))
		return len(rows) == 2 && len(rows[1]) == 6, fmt.Sprint(rows)
	})
	if got := strings.Join(rows[0], " "); got != "NAME STATUS READY TYPE PROFILE IP EXTERNAL-IP AGE" {
		t.Errorf("header: %s", got)
	}
	if got := strings.Join(append(rows[1][:1:1], rows[1][2:5]...), " "); got != "production-web-server false cx1.large ubuntu" {
		t.Errorf("row: %v", rows[1])
	}
	wide := tableRows(t, kubectl(t, "get", "vminstance", "-n", "production", "-o", "wide"))
	if got := strings.Join(wide[0], " "); got != "NAME STATUS READY TYPE PROFILE IP EXTERNAL-IP AGE CPU MEMORY NODE" {
		t.Errorf("wide header: %s", got)
	}
	if got := strings.Join(wide[1][len(wide[1])-2:], " "); got != "4 8Gi" {
		t.Errorf("wide CPU and MEMORY from the instance type: %v", wide[1])
	}

	// What the real virt-controller and cdi-controller make of it: both
	// DataVolumes from the VM's templates (the root disk's clone of the OS
	// image authorised by the clone grant), their claims, the VMI, and
	// KubeVirt's printableStatus as the phase.
	waitProvisioned(t, c, kv, "production", name, []string{"root-disk", "app-data"})
	waitPhaseIsPrintableStatus(t, c, kv, "production", name)

	// The seed's own stop and start command; virt-controller removes the
	// VMI of the halted VM and makes a new one on start.
	kubectl(t, "patch", "vminstance", name, "-n", "production", "--type", "merge", "-p", `{"spec":{"running":false}}`)
	assertRunStrategy(t, kv, "production", name, kubevirtv1.RunStrategyHalted)
	waitNoVMI(t, kv, "production", name)
	if phase := waitPhaseIsPrintableStatus(t, c, kv, "production", name); phase != string(kubevirtv1.VirtualMachineStatusStopped) {
		t.Errorf("a halted VM's phase: %s", phase)
	}
	kubectl(t, "patch", "vminstance", name, "-n", "production", "--type", "merge", "-p", `{"spec":{"running":true}}`)
	assertRunStrategy(t, kv, "production", name, kubevirtv1.RunStrategyAlways)
	waitProvisioned(t, c, kv, "production", name, []string{"root-disk", "app-data"})
}

func assertRunStrategy(t *testing.T, kv kubevirt.Interface, ns, name string, want kubevirtv1.VirtualMachineRunStrategy) {
	t.Helper()
	vm, err := kv.KubevirtV1().VirtualMachines(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if vm.Spec.RunStrategy == nil || *vm.Spec.RunStrategy != want {
		t.Fatalf("runStrategy %v, want %s", vm.Spec.RunStrategy, want)
	}
}
