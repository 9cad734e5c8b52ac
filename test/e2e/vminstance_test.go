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
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubevirtv1 "kubevirt.io/api/core/v1"

	appsv1alpha1 "github.com/cozystack/vm-apiserver/pkg/apis/apps/v1alpha1"
	"github.com/cozystack/vm-apiserver/test/environment"
)

func newInstance(name string, spec appsv1alpha1.VMInstanceSpec) *appsv1alpha1.VMInstance {
	return &appsv1alpha1.VMInstance{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
}

func sshKey(t testing.TB) string {
	t.Helper()
	key, err := environment.SSHPublicKey("e2e@test")
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// assertNoBackendObjects checks that nothing was written for VMInstance name.
func assertNoBackendObjects(t *testing.T, c clients, ns, name string) {
	t.Helper()
	ctx := context.Background()
	// A VM written and deleted again goes once virt-controller has removed
	// its finalizer.
	eventually(t, "no VirtualMachine "+name, func() (bool, string) {
		_, err := kubevirtClient(t).KubevirtV1().VirtualMachines(ns).Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Sprintf("a VirtualMachine was left behind: %v", err)
	})
	if _, err := c.kube.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a Service was left behind: %v", err)
	}
	for _, secret := range []string{name + "-cloud-init", name + "-ssh-keys"} {
		s, err := c.kube.CoreV1().Secrets(ns).Get(ctx, secret, metav1.GetOptions{})
		if err == nil && s.Labels["vm.apps.cozystack.io/instance"] == name {
			t.Errorf("Secret %s was left behind", secret)
		}
	}
}

// TestMinimalVMInstanceDefaults creates a VMInstance with an empty spec.
func TestMinimalVMInstanceDefaults(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	kubectlStdin(t, "apiVersion: apps.cozystack.io/v1alpha1\nkind: VMInstance\nmetadata:\n  name: minimal\n", "apply", "-n", ns, "-f", "-")
	inst, err := c.apps.AppsV1alpha1().VMInstances(ns).Get(context.Background(), "minimal", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := inst.Spec
	if s.Running == nil || !*s.Running || s.InstanceType != "u1.medium" || s.InstanceProfile != "ubuntu" || s.External ||
		len(s.Disks) != 0 || len(s.ExternalPorts) != 0 || len(s.SSHKeys) != 0 || s.CloudInit != "" || s.Resources != nil {
		t.Fatalf("defaults: %+v", s)
	}
	if inst.Status.CPU.String() != "2" || inst.Status.Memory.String() != "8Gi" {
		t.Fatalf("effective size of u1.medium: %v %v", inst.Status.CPU, inst.Status.Memory)
	}
	assertRunStrategy(t, kubevirtClient(t), ns, "minimal", kubevirtv1.RunStrategyAlways)
}

// TestVMInstanceReflectsBackendChanges stops the VM the way virtctl does
// (runStrategy Halted on the VirtualMachine).
func TestVMInstanceReflectsBackendChanges(t *testing.T) {
	c := newClients(t)
	kv := kubevirtClient(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	if _, err := c.apps.AppsV1alpha1().VMInstances(ns).Create(ctx, newInstance("web", appsv1alpha1.VMInstanceSpec{}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	vm, err := kv.KubevirtV1().VirtualMachines(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	halted := kubevirtv1.RunStrategyHalted
	vm.Spec.RunStrategy = &halted
	if _, err := kv.KubevirtV1().VirtualMachines(ns).Update(ctx, vm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	out := kubectl(t, "get", "vminstance", "web", "-n", ns, "-o", "jsonpath={.spec.running}")
	if out != "false" {
		t.Fatalf("a VM stopped on the backend reads as running=%s", out)
	}
}

// TestVMInstanceStatusFromBackend writes status the way a node (scheduler,
// kubelet, virt-handler) and a load balancer would, lets virt-controller
// derive the VM's, and reads it through get, -o wide, -w, describe and wait.
func TestVMInstanceStatusFromBackend(t *testing.T) {
	c := newClients(t)
	kv := kubevirtClient(t)
	ns := newNamespace(t, c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	spec := appsv1alpha1.VMInstanceSpec{External: true, ExternalPorts: []appsv1alpha1.ExternalPort{{Port: 22}}}
	if _, err := c.apps.AppsV1alpha1().VMInstances(ns).Create(ctx, newInstance("web", spec), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	watch := env.KubectlCommand(ctx, "get", "vminstance", "-w", "-n", ns)
	lines := startLines(t, watch)
	lines.waitFor(t, "web")

	// virt-controller makes the VMI and its pod; no node runs them, so the
	// scheduler's, kubelet's and virt-handler's part is written here, and
	// virt-controller derives the VM's status from it.
	runOnNode(t, c, kv, ns, "web", "node-1", "10.244.0.7", "fd00::7")
	// As a load balancer controller would.
	svc, err := c.kube.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.10"}}
	if _, err := c.kube.CoreV1().Services(ns).UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	lines.waitFor(t, "Running")
	kubectl(t, "wait", "--for=condition=Ready", "--timeout=30s", "-n", ns, "vminstance/web")
	inst, err := c.apps.AppsV1alpha1().VMInstances(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := inst.Status
	if s.Phase != "Running" || !s.Ready || s.NodeName != "node-1" || s.ExternalIP != "203.0.113.10" ||
		strings.Join(s.IPAddresses, ",") != "10.244.0.7,fd00::7" || s.CPU.String() != "2" || s.Memory.String() != "8Gi" {
		t.Fatalf("status: %+v", s)
	}
	wide := tableRows(t, kubectl(t, "get", "vminstance", "web", "-n", ns, "-o", "wide"))
	row := strings.Join(wide[1], " ")
	for _, want := range []string{"web Running true u1.medium ubuntu 10.244.0.7 203.0.113.10", "2 8Gi node-1"} {
		if !strings.Contains(row, want) {
			t.Errorf("-o wide row %q lacks %q", row, want)
		}
	}
	// As virt-handler would report the start.
	now := metav1.Now()
	started := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: "web."},
		InvolvedObject: corev1.ObjectReference{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachineInstance", Namespace: ns, Name: "web"},
		Reason:         "Started", Message: "VirtualMachineInstance started.", Type: corev1.EventTypeNormal,
		Source: corev1.EventSource{Component: "virt-handler"}, FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}
	if _, err := c.kube.CoreV1().Events(ns).Create(ctx, started, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "describe to show KubeVirt's event on the VMInstance", func() (bool, string) {
		out := kubectl(t, "describe", "vminstance", "web", "-n", ns)
		return strings.Contains(out, "VirtualMachineInstance: VirtualMachineInstance started."), out
	})
	// A change to only the Service (a new load balancer address) or only
	// the VMI (a new IP) reaches watchers of the VMInstance too.
	svc, err = c.kube.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.20"}}
	if _, err := c.kube.CoreV1().Services(ns).UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	lines.waitFor(t, " 203.0.113.20 ")
	// A new address, as virt-handler would report it.
	setVMIRunning(t, kv, ns, "web", "node-1", "10.244.0.99")
	lines.waitFor(t, " 10.244.0.99 ")

	describe := kubectl(t, "describe", "vminstance", "web", "-n", ns)
	for _, want := range []string{"Name:         web", "Kind:         VMInstance", "External IP:", "203.0.113.20", "Node Name:", "node-1"} {
		if !strings.Contains(describe, want) {
			t.Errorf("describe lacks %q:\n%s", want, describe)
		}
	}
}

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

// TestVMInstanceResourceVersionFollowsJoinedObjects changes only the Service
// of a VMInstance, as a load balancer controller does: the VMInstance gets
// the Service's newer resourceVersion, on GET and in the watch event, so
// clients that skip updates with an unchanged resourceVersion see it; a
// write or delete precondition with the older one is a 409.
func TestVMInstanceResourceVersionFollowsJoinedObjects(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	instances := c.apps.AppsV1alpha1().VMInstances(ns)
	spec := appsv1alpha1.VMInstanceSpec{External: true, ExternalPorts: []appsv1alpha1.ExternalPort{{Port: 22}}}
	if _, err := instances.Create(ctx, newInstance("web", spec), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	before, err := instances.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := instances.Watch(ctx, metav1.ListOptions{ResourceVersion: before.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	svc, err := c.kube.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.10"}}
	if svc, err = c.kube.CoreV1().Services(ns).UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	select {
	case event := <-w.ResultChan():
		inst, ok := event.Object.(*appsv1alpha1.VMInstance)
		if !ok || event.Type != "MODIFIED" || inst.Status.ExternalIP != "203.0.113.10" || inst.ResourceVersion != svc.ResourceVersion {
			t.Fatalf("want MODIFIED with the address and the Service's resourceVersion %s, got %s %+v", svc.ResourceVersion, event.Type, event.Object)
		}
	case <-time.After(eventuallyTimeout):
		t.Fatal("no watch event for the Service's change")
	}
	after, err := instances.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != svc.ResourceVersion {
		t.Fatalf("GET: resourceVersion %s, want the Service's %s", after.ResourceVersion, svc.ResourceVersion)
	}

	stale := before.DeepCopy()
	stale.Labels = map[string]string{"tier": "front"}
	if _, err := instances.Update(ctx, stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("an update with the resourceVersion from before the Service changed: want 409, got %v", err)
	}
	if err := instances.Delete(ctx, "web", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &before.ResourceVersion}}); !apierrors.IsConflict(err) {
		t.Fatalf("a delete precondition with the old resourceVersion: want 409, got %v", err)
	}
	current := after.DeepCopy()
	current.Labels = map[string]string{"tier": "front"}
	updated, err := instances.Update(ctx, current, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("an update with the current resourceVersion: %v", err)
	}
	if err := instances.Delete(ctx, "web", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &updated.ResourceVersion}}); err != nil {
		t.Fatalf("a delete precondition with the current resourceVersion: %v", err)
	}
}
