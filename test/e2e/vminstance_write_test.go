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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubevirtv1 "kubevirt.io/api/core/v1"

	appsv1alpha1 "github.com/cozystack/vm-apiserver/pkg/apis/apps/v1alpha1"
)

// TestVMInstanceCreateFailureLeavesNothing makes the Secret write fail (the
// name is taken by a tenant's own Secret) and checks that no VM remains.
func TestVMInstanceCreateFailureLeavesNothing(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	theirs := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "web-ssh-keys"}, StringData: map[string]string{"a": "b"}}
	if _, err := c.kube.CoreV1().Secrets(ns).Create(ctx, theirs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := c.apps.AppsV1alpha1().VMInstances(ns).Create(ctx, newInstance("web", appsv1alpha1.VMInstanceSpec{SSHKeys: []string{sshKey(t)}}), metav1.CreateOptions{})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "Secret "+ns+"/web-ssh-keys already exists") {
		t.Fatalf("want 409 naming the Secret, got %v", err)
	}
	assertNoBackendObjects(t, c, ns, "web")
	if got, err := c.kube.CoreV1().Secrets(ns).Get(ctx, "web-ssh-keys", metav1.GetOptions{}); err != nil || string(got.Data["a"]) != "b" {
		t.Fatalf("the tenant's Secret was touched: %v", err)
	}
}

// TestVMInstanceUpdateReconciles turns external off and on, and changes
// keys and cloud-init.
func TestVMInstanceUpdateReconciles(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	instances := c.apps.AppsV1alpha1().VMInstances(ns)
	spec := appsv1alpha1.VMInstanceSpec{External: true, ExternalPorts: []appsv1alpha1.ExternalPort{{Port: 22}}, CloudInit: "#cloud-config\n"}
	if _, err := instances.Create(ctx, newInstance("web", spec), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubectl(t, "patch", "vminstance", "web", "-n", ns, "--type", "merge", "-p", `{"spec":{"external":false,"cloudInit":null}}`)
	if _, err := c.kube.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("turning external off should delete the Service: %v", err)
	}
	if _, err := c.kube.CoreV1().Secrets(ns).Get(ctx, "web-cloud-init", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("removing cloudInit should delete its Secret: %v", err)
	}
	// The server records what it did on the VMInstance, for describe and
	// the reference's `kubectl get events --field-selector involvedObject.name=<vm>`.
	eventually(t, "describe to show the Unexposed event", func() (bool, string) {
		out := kubectl(t, "describe", "vminstance", "web", "-n", ns)
		return strings.Contains(out, "Unexposed") && strings.Contains(out, "Deleted Service web") && strings.Contains(out, "Created VirtualMachine web"), out
	})
	if out := kubectl(t, "get", "events", "-n", ns, "--field-selector", "involvedObject.name=web"); !strings.Contains(out, "vminstance/web") {
		t.Errorf("kubectl get events --field-selector involvedObject.name=web:\n%s", out)
	}
	inst, err := instances.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if inst.Spec.External || len(inst.Spec.ExternalPorts) != 1 || inst.Spec.ExternalPorts[0].Port != 22 || inst.Spec.CloudInit != "" {
		t.Fatalf("ports are kept while not external: %+v", inst.Spec)
	}
	key := sshKey(t)
	kubectl(t, "patch", "vminstance", "web", "-n", ns, "--type", "merge", "-p",
		fmt.Sprintf(`{"spec":{"external":true,"externalPorts":[{"port":22},{"port":53,"protocol":"UDP","targetPort":5353}],"sshKeys":[%q]}}`, key))
	svc, err := c.kube.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(svc.Spec.Ports) != 2 || svc.Spec.Ports[1].Protocol != corev1.ProtocolUDP || svc.Spec.Ports[1].TargetPort.IntVal != 5353 {
		t.Fatalf("service ports: %+v", svc.Spec.Ports)
	}
	inst, err = instances.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(inst.Spec.SSHKeys) != 1 || inst.Spec.SSHKeys[0] != key || inst.Spec.CloudInit != "" {
		t.Fatalf("keys without cloud-init: %+v", inst.Spec)
	}
}

// TestVMInstanceDeleteRemovesEverything deletes a VMInstance; garbage
// collection (kube-controller-manager) removes the owned objects.
func TestVMInstanceDeleteRemovesEverything(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	spec := appsv1alpha1.VMInstanceSpec{External: true, ExternalPorts: []appsv1alpha1.ExternalPort{{Port: 22}}, SSHKeys: []string{sshKey(t)}, CloudInit: "#cloud-config\n"}
	if _, err := c.apps.AppsV1alpha1().VMInstances(ns).Create(ctx, newInstance("web", spec), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubectl(t, "delete", "vminstance", "web", "-n", ns)
	eventually(t, "the backend objects to be collected", func() (bool, string) {
		var left []string
		if _, err := c.kube.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{}); err == nil {
			left = append(left, "Service")
		}
		for _, s := range []string{"web-cloud-init", "web-ssh-keys"} {
			if _, err := c.kube.CoreV1().Secrets(ns).Get(ctx, s, metav1.GetOptions{}); err == nil {
				left = append(left, s)
			}
		}
		if _, err := kubevirtClient(t).KubevirtV1().VirtualMachines(ns).Get(ctx, "web", metav1.GetOptions{}); err == nil {
			left = append(left, "VirtualMachine")
		}
		return len(left) == 0, fmt.Sprint("left: ", left)
	})
}

// TestVMInstanceAttachesVMDisks attaches a data disk and an ISO, and checks
// that deleting an attached disk leaves it Terminating, naming its user.
func TestVMInstanceAttachesVMDisks(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	disks := c.apps.AppsV1alpha1().VMDisks(ns)
	if _, err := disks.Create(ctx, newDisk("data", appsv1alpha1.VMDiskSpec{}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	iso := newDisk("installer", appsv1alpha1.VMDiskSpec{Optical: true, Source: appsv1alpha1.VMDiskSource{HTTP: &appsv1alpha1.HTTPDiskSource{URL: "https://example.com/w.iso"}}})
	if _, err := disks.Create(ctx, iso, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	spec := appsv1alpha1.VMInstanceSpec{InstanceProfile: "windows-server-2022", Disks: []appsv1alpha1.VMInstanceDisk{
		{Name: "system", Size: quantity("60Gi")}, {Name: "installer"}, {Name: "data"},
	}}
	if _, err := c.apps.AppsV1alpha1().VMInstances(ns).Create(ctx, newInstance("win", spec), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	vm, err := kubevirtClient(t).KubevirtV1().VirtualMachines(ns).Get(ctx, "win", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	devices := vm.Spec.Template.Spec.Domain.Devices.Disks
	if len(devices) != 3 || devices[1].CDRom == nil || devices[1].CDRom.Bus != kubevirtv1.DiskBusSATA || devices[2].Disk == nil || *devices[2].BootOrder != 3 {
		t.Fatalf("disks: %+v", devices)
	}
	if system := vm.Spec.DataVolumeTemplates[0]; system.Spec.Source == nil || system.Spec.Source.Blank == nil {
		t.Fatalf("a Windows root disk has no image to clone and starts blank: %+v", system.Spec)
	}
	// usedBy is status, read from the server's informer: it follows
	// the VMInstance as soon as the cache has its VM.
	eventually(t, "usedBy to name the VMInstance", func() (bool, string) {
		got, err := disks.Get(ctx, "installer", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(got.Status.UsedBy, ",") == "win", fmt.Sprintf("usedBy %v", got.Status.UsedBy)
	})
	// Deleting an attached disk is accepted; the disk stays Terminating
	// while the VMInstance attaches it (vmdisk_protection_test.go).
	if err := disks.Delete(ctx, "data", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting an attached disk should be accepted: %v", err)
	}
	dv, err := c.cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, "data", metav1.GetOptions{})
	if err != nil || dv.DeletionTimestamp == nil {
		t.Fatalf("the DataVolume of an attached disk should stay, Terminating: %v", err)
	}
	got, err := disks.Get(ctx, "data", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c := apimeta.FindStatusCondition(got.Status.Conditions, "Terminating"); c == nil || c.Reason != "InUse" || !strings.Contains(c.Message, "VMInstance win") {
		t.Fatalf("the Terminating condition should name the VMInstance: %+v", got.Status.Conditions)
	}
}

// TestVMInstanceResourcesAndWarnings overrides an instance type's CPU and
// checks the expanded VM and the warnings kubectl prints.
func TestVMInstanceResourcesAndWarnings(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	out := kubectlStdin(t, `apiVersion: apps.cozystack.io/v1alpha1
kind: VMInstance
metadata:
  name: tuned
spec:
  instanceType: cx1.large
  resources:
    cpu: "6"
  externalPorts:
    - port: 22
`, "apply", "-n", ns, "-f", "-")
	for _, want := range []string{"Warning: spec.externalPorts: kept, but not exposed until spec.external is true", `Warning: spec.resources: overrides the cpu/memory of instance type "cx1.large"`} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl apply output lacks %q:\n%s", want, out)
		}
	}
	vm, err := kubevirtClient(t).KubevirtV1().VirtualMachines(ns).Get(context.Background(), "tuned", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	domain := vm.Spec.Template.Spec.Domain
	if vm.Spec.Instancetype != nil || domain.CPU == nil || domain.CPU.Sockets != 6 || !domain.CPU.DedicatedCPUPlacement ||
		domain.CPU.NUMA == nil || domain.Memory == nil || domain.Memory.Guest.String() != "8Gi" || domain.Memory.Hugepages == nil {
		t.Fatalf("cx1.large with 6 CPUs should keep dedicated CPUs, NUMA, 8Gi and hugepages: %+v %+v", domain.CPU, domain.Memory)
	}
	inst, err := c.apps.AppsV1alpha1().VMInstances(ns).Get(context.Background(), "tuned", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if inst.Spec.InstanceType != "cx1.large" || inst.Spec.Resources == nil || inst.Spec.Resources.CPU.String() != "6" || inst.Spec.Resources.Memory != nil ||
		inst.Status.CPU.String() != "6" || inst.Status.Memory.String() != "8Gi" {
		t.Fatalf("read back: %+v %+v", inst.Spec, inst.Status)
	}
}
