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
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"kubevirt.io/client-go/kubevirt"

	"github.com/cozystack/vm-apiserver/test/environment"
)

// runOnNode does what the test cluster has no node for: the scheduler binds
// the virt-launcher pod virt-controller made for VMI name to node, the
// kubelet reports the pod running and ready with the first IP, and
// virt-handler reports the VMI Running on node with ips. virt-controller
// then derives the VM's status (printableStatus Running, Ready) itself.
func runOnNode(t *testing.T, c clients, kv kubevirt.Interface, ns, name, node string, ips ...string) {
	t.Helper()
	ctx := context.Background()
	var vmi *kubevirtv1.VirtualMachineInstance
	eventuallyWithin(t, controllerTimeout, "virt-controller to create the VMI "+name, func() (bool, string) {
		var err error
		vmi, err = kv.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, name, metav1.GetOptions{})
		return err == nil, fmt.Sprint(err)
	})
	var pod *corev1.Pod
	eventuallyWithin(t, controllerTimeout, "virt-controller to create the virt-launcher pod of "+name, func() (bool, string) {
		pods, err := c.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "kubevirt.io/created-by=" + string(vmi.UID)})
		if err != nil || len(pods.Items) == 0 {
			return false, fmt.Sprint(err, " VMI events: ", vmEvents(t, c, ns, name, ""))
		}
		pod = &pods.Items[0]
		return true, ""
	})
	// As the scheduler would.
	if pod.Spec.NodeName == "" {
		binding := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: pod.Name}, Target: corev1.ObjectReference{Kind: "Node", Name: node}}
		if err := c.kube.CoreV1().Pods(ns).Bind(ctx, binding, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// As the kubelet would.
	eventually(t, "the virt-launcher pod to report running", func() (bool, string) {
		p, err := c.kube.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		now := metav1.Now()
		p.Status.Phase = corev1.PodRunning
		p.Status.PodIP = ips[0]
		p.Status.PodIPs = []corev1.PodIP{{IP: ips[0]}}
		p.Status.StartTime = &now
		p.Status.Conditions = []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		}
		p.Status.ContainerStatuses = nil
		for _, container := range p.Spec.Containers {
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
				Name: container.Name, Image: container.Image, Ready: true,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
			})
		}
		_, err = c.kube.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		return err == nil, fmt.Sprint(err)
	})
	// As virt-handler would.
	setVMIRunning(t, kv, ns, name, node, ips...)
}

// stopOnNode does what the node's components do for a deleted VMI that
// runs there (none runs here): virt-handler reports the guest shut down
// (phase Succeeded) and the kubelet removes the virt-launcher pod; then
// virt-controller, which holds the VMI until both, lets it go.
func stopOnNode(t *testing.T, c clients, ns, name string) {
	t.Helper()
	ctx := context.Background()
	kv := virtHandlerClient(t)
	var uid string
	eventually(t, "the VMI to report its guest shut down", func() (bool, string) {
		list, err := kv.KubevirtV1().VirtualMachineInstances(ns).List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
		if err != nil {
			return false, err.Error()
		}
		if len(list.Items) == 0 {
			return true, ""
		}
		vmi := &list.Items[0]
		uid = string(vmi.UID)
		if vmi.Status.Phase == kubevirtv1.Succeeded {
			return true, ""
		}
		vmi.Status.Phase = kubevirtv1.Succeeded
		_, err = kv.KubevirtV1().VirtualMachineInstances(ns).Update(ctx, vmi, metav1.UpdateOptions{})
		return err == nil || apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	if uid == "" {
		return
	}
	pods, err := c.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "kubevirt.io/created-by=" + uid})
	if err != nil {
		t.Fatal(err)
	}
	for _, pod := range pods.Items {
		if err := c.kube.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
	}
}

// virtHandlerClient is a KubeVirt client acting as virt-handler's service
// account.
func virtHandlerClient(t *testing.T) kubevirt.Interface {
	t.Helper()
	config := rest.CopyConfig(env.Config)
	config.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + environment.KubeVirtNamespace + ":kubevirt-handler",
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + environment.KubeVirtNamespace, "system:authenticated"},
	}
	kv, err := kubevirt.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// setVMIRunning writes the VMI status virt-handler reports for a guest
// running on node with ips (the VMI kind has no status subresource), as
// virt-handler: KubeVirt drops VMI status changes from anyone but its own
// components.
func setVMIRunning(t *testing.T, _ kubevirt.Interface, ns, name, node string, ips ...string) {
	t.Helper()
	ctx := context.Background()
	kv := virtHandlerClient(t)
	eventually(t, "the VMI to report running with "+fmt.Sprint(ips), func() (bool, string) {
		// virt-handler may list VMIs, not get them.
		list, err := kv.KubevirtV1().VirtualMachineInstances(ns).List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
		if err != nil {
			return false, err.Error()
		}
		if len(list.Items) != 1 {
			return false, fmt.Sprintf("%d VMIs named %s", len(list.Items), name)
		}
		vmi := &list.Items[0]
		vmi.Status.Phase = kubevirtv1.Running
		vmi.Status.NodeName = node
		vmi.Status.Interfaces = []kubevirtv1.VirtualMachineInstanceNetworkInterface{{Name: "default", IP: ips[0], IPs: ips}}
		_, err = kv.KubevirtV1().VirtualMachineInstances(ns).Update(ctx, vmi, metav1.UpdateOptions{})
		return err == nil, fmt.Sprint(err)
	})
}
