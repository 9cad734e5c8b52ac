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
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/retry"
	kubevirtv1 "kubevirt.io/api/core/v1"

	appsv1alpha1 "github.com/cozystack/vm-apiserver/pkg/apis/apps/v1alpha1"
	"github.com/cozystack/vm-apiserver/pkg/projection"
)

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
	// As virtctl stop would; virt-controller writes the VM's status
	// meanwhile: re-read on a conflict, as a client does.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		vm, err := kv.KubevirtV1().VirtualMachines(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		halted := kubevirtv1.RunStrategyHalted
		vm.Spec.RunStrategy = &halted
		_, err = kv.KubevirtV1().VirtualMachines(ns).Update(ctx, vm, metav1.UpdateOptions{})
		return err
	}); err != nil {
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

// TestVMInstanceResourceVersionFollowsJoinedObjects changes only the Service
// of a VMInstance, as a load balancer controller does: vm-apiserver records
// the change on the VM, so the VMInstance's resourceVersion, which is its
// VM's, moves past the Service's, on GET and in the watch event; a write
// or delete precondition with the older one is a 409.
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
	// Once virt-controller has made the VM its own (finalizer, status, a
	// VMI), its writes slow down; those still to come are allowed for below.
	waitPhaseIsPrintableStatus(t, c, kubevirtClient(t), ns, "web")
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

	// virt-controller's own writes to the VM (its finalizer, status) may
	// come first, without the address.
	timeout := time.After(eventuallyTimeout)
	for seen := false; !seen; {
		select {
		case event := <-w.ResultChan():
			inst, ok := event.Object.(*appsv1alpha1.VMInstance)
			if !ok || event.Type != "MODIFIED" {
				t.Fatalf("want MODIFIED events, got %s %+v", event.Type, event.Object)
			}
			if inst.Status.ExternalIP == "" {
				continue
			}
			if inst.Status.ExternalIP != "203.0.113.10" {
				t.Fatalf("want MODIFIED with the address, got %+v", event.Object)
			}
			seen = true
		case <-timeout:
			t.Fatal("no watch event for the Service's change")
		}
	}
	// The VM records the Service's version, and a GET shows the VM's
	// resourceVersion, newer than the Service's.
	eventually(t, "the Service's change recorded on the VM, and a GET at the VM's resourceVersion", func() (bool, string) {
		vm, err := kubevirtClient(t).KubevirtV1().VirtualMachines(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		got, err := instances.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		recorded := projection.OwnedVersionsOf(&vm.ObjectMeta)
		return recorded[projection.OwnedKey("Service", "web")] == svc.ResourceVersion && got.ResourceVersion == vm.ResourceVersion &&
				resourceVersionBefore(t, svc.ResourceVersion, got.ResourceVersion) && got.Status.ExternalIP == "203.0.113.10",
			fmt.Sprintf("GET at %s with %q; VM at %s records %v; Service at %s", got.ResourceVersion, got.Status.ExternalIP, vm.ResourceVersion, recorded, svc.ResourceVersion)
	})

	stale := before.DeepCopy()
	stale.Labels = map[string]string{"tier": "front"}
	if _, err := instances.Update(ctx, stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("an update with the resourceVersion from before the Service changed: want 409, got %v", err)
	}
	if err := instances.Delete(ctx, "web", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &before.ResourceVersion}}); !apierrors.IsConflict(err) {
		t.Fatalf("a delete precondition with the old resourceVersion: want 409, got %v", err)
	}
	// With the current resourceVersion both are accepted; a status write of
	// virt-controller's in between makes the client read again, as any
	// client does.
	var updated *appsv1alpha1.VMInstance
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		current, err := instances.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		current.Labels = map[string]string{"tier": "front"}
		updated, err = instances.Update(ctx, current, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatalf("an update with the current resourceVersion: %v", err)
	}
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		err := instances.Delete(ctx, "web", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &updated.ResourceVersion}})
		if apierrors.IsConflict(err) {
			if updated, err = instances.Get(ctx, "web", metav1.GetOptions{}); err == nil {
				return apierrors.NewConflict(schema.GroupResource{}, "web", fmt.Errorf("moved"))
			}
		}
		return err
	}); err != nil {
		t.Fatalf("a delete precondition with the current resourceVersion: %v", err)
	}
}

// resourceVersionBefore says whether resourceVersion a is older than b.
func resourceVersionBefore(t *testing.T, a, b string) bool {
	t.Helper()
	older, err := strconv.ParseUint(a, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	newer, err := strconv.ParseUint(b, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return older < newer
}
