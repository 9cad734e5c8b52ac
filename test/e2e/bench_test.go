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
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	kubevirtv1 "kubevirt.io/api/core/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	appsv1alpha1 "github.com/cozystack/vm-apiserver/pkg/apis/apps/v1alpha1"
)

// The benchmarks time each request through vm-apiserver against the same
// request for the backend object it projects, made directly to
// kube-apiserver in the same iteration, and report both and their ratio
// (x-native). ns/op is the vm-apiserver path. `make bench` runs them.

// benchmarkObjects is how many objects the list benchmarks list.
const benchmarkObjects = 20

// compareWithNative runs native and projected once per iteration and
// reports their mean durations and ratio.
func compareWithNative(b *testing.B, native, projected func(i int) error) {
	b.Helper()
	var nativeTotal, projectedTotal time.Duration
	i := 0
	for b.Loop() {
		start := time.Now()
		if err := native(i); err != nil {
			b.Fatalf("native: %v", err)
		}
		nativeTotal += time.Since(start)
		start = time.Now()
		if err := projected(i); err != nil {
			b.Fatalf("vm-apiserver: %v", err)
		}
		projectedTotal += time.Since(start)
		i++
	}
	reportRatio(b, nativeTotal, projectedTotal, i)
}

func reportRatio(b *testing.B, nativeTotal, projectedTotal time.Duration, n int) {
	b.ReportMetric(float64(projectedTotal.Nanoseconds())/float64(n), "ns/op")
	b.ReportMetric(float64(nativeTotal.Nanoseconds())/float64(n), "native-ns/op")
	b.ReportMetric(float64(projectedTotal)/float64(nativeTotal), "x-native")
}

// benchmarkDisks creates n VMDisks in a new namespace.
func benchmarkDisks(b *testing.B, n int) (clients, string) {
	b.Helper()
	c := newClients(b)
	ns := newNamespace(b, c)
	for i := range n {
		if _, err := c.apps.AppsV1alpha1().VMDisks(ns).Create(context.Background(), newDisk(fmt.Sprintf("disk-%d", i), appsv1alpha1.VMDiskSpec{}), metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	return c, ns
}

// benchmarkInstances creates n VMInstances in a new namespace.
func benchmarkInstances(b *testing.B, n int) (clients, string) {
	b.Helper()
	c := newClients(b)
	ns := newNamespace(b, c)
	spec := appsv1alpha1.VMInstanceSpec{External: true, ExternalPorts: []appsv1alpha1.ExternalPort{{Port: 22}}, SSHKeys: []string{sshKey(b)}}
	for i := range n {
		if _, err := c.apps.AppsV1alpha1().VMInstances(ns).Create(context.Background(), newInstance(fmt.Sprintf("vm-%d", i), spec), metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	return c, ns
}

// BenchmarkGetVMDisk: a VMDisk GET (the DataVolume, and the namespace's
// VirtualMachines for usedBy) against a DataVolume GET.
func BenchmarkGetVMDisk(b *testing.B) {
	c, ns := benchmarkDisks(b, 1)
	ctx := context.Background()
	compareWithNative(b, func(int) error {
		_, err := c.cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, "disk-0", metav1.GetOptions{})
		return err
	}, func(int) error {
		_, err := c.apps.AppsV1alpha1().VMDisks(ns).Get(ctx, "disk-0", metav1.GetOptions{})
		return err
	})
}

// BenchmarkGetVMInstance: a VMInstance GET (VirtualMachine, VMI, Service,
// Secrets) against a VirtualMachine GET.
func BenchmarkGetVMInstance(b *testing.B) {
	c, ns := benchmarkInstances(b, 1)
	kv := kubevirtClient(b)
	ctx := context.Background()
	compareWithNative(b, func(int) error {
		_, err := kv.KubevirtV1().VirtualMachines(ns).Get(ctx, "vm-0", metav1.GetOptions{})
		return err
	}, func(int) error {
		_, err := c.apps.AppsV1alpha1().VMInstances(ns).Get(ctx, "vm-0", metav1.GetOptions{})
		return err
	})
}

// BenchmarkListVMDisks lists benchmarkObjects VMDisks against their
// DataVolumes.
func BenchmarkListVMDisks(b *testing.B) {
	c, ns := benchmarkDisks(b, benchmarkObjects)
	ctx := context.Background()
	compareWithNative(b, func(int) error {
		_, err := c.cdi.CdiV1beta1().DataVolumes(ns).List(ctx, metav1.ListOptions{})
		return err
	}, func(int) error {
		_, err := c.apps.AppsV1alpha1().VMDisks(ns).List(ctx, metav1.ListOptions{})
		return err
	})
}

// BenchmarkListVMInstances lists benchmarkObjects VMInstances against their
// VirtualMachines.
func BenchmarkListVMInstances(b *testing.B) {
	c, ns := benchmarkInstances(b, benchmarkObjects)
	kv := kubevirtClient(b)
	ctx := context.Background()
	compareWithNative(b, func(int) error {
		_, err := kv.KubevirtV1().VirtualMachines(ns).List(ctx, metav1.ListOptions{})
		return err
	}, func(int) error {
		_, err := c.apps.AppsV1alpha1().VMInstances(ns).List(ctx, metav1.ListOptions{})
		return err
	})
}

// BenchmarkCreateVMDisk creates VMDisks against creating the DataVolume a
// VMDisk becomes.
func BenchmarkCreateVMDisk(b *testing.B) {
	c, ns := benchmarkDisks(b, 1)
	ctx := context.Background()
	written, err := c.cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, "disk-0", metav1.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	template := &cdiv1.DataVolume{
		ObjectMeta: metav1.ObjectMeta{Labels: written.Labels, Annotations: written.Annotations},
		Spec:       written.Spec,
	}
	compareWithNative(b, func(i int) error {
		dv := template.DeepCopy()
		dv.Name = fmt.Sprintf("native-%d", i)
		_, err := c.cdi.CdiV1beta1().DataVolumes(ns).Create(ctx, dv, metav1.CreateOptions{})
		return err
	}, func(i int) error {
		_, err := c.apps.AppsV1alpha1().VMDisks(ns).Create(ctx, newDisk(fmt.Sprintf("projected-%d", i), appsv1alpha1.VMDiskSpec{}), metav1.CreateOptions{})
		return err
	})
}

// BenchmarkCreateVMInstance creates VMInstances against creating the
// VirtualMachine, Service and Secrets a VMInstance becomes.
func BenchmarkCreateVMInstance(b *testing.B) {
	c, ns := benchmarkInstances(b, 1)
	kv := kubevirtClient(b)
	ctx := context.Background()
	vm, err := kv.KubevirtV1().VirtualMachines(ns).Get(ctx, "vm-0", metav1.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	service, err := c.kube.CoreV1().Services(ns).Get(ctx, "vm-0", metav1.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var secrets []*corev1.Secret
	for _, name := range []string{"vm-0-cloud-init", "vm-0-ssh-keys"} {
		secret, err := c.kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		secrets = append(secrets, secret)
	}
	spec := appsv1alpha1.VMInstanceSpec{External: true, ExternalPorts: []appsv1alpha1.ExternalPort{{Port: 22}}, SSHKeys: []string{sshKey(b)}}
	compareWithNative(b, func(i int) error {
		name := fmt.Sprintf("native-%d", i)
		copyVM := &kubevirtv1.VirtualMachine{ObjectMeta: copyMeta(vm.ObjectMeta, name), Spec: vm.Spec}
		if _, err := kv.KubevirtV1().VirtualMachines(ns).Create(ctx, copyVM, metav1.CreateOptions{}); err != nil {
			return err
		}
		copyService := &corev1.Service{ObjectMeta: copyMeta(service.ObjectMeta, name), Spec: *service.Spec.DeepCopy()}
		copyService.Spec.ClusterIP, copyService.Spec.ClusterIPs = "", nil
		for i := range copyService.Spec.Ports {
			copyService.Spec.Ports[i].NodePort = 0
		}
		if _, err := c.kube.CoreV1().Services(ns).Create(ctx, copyService, metav1.CreateOptions{}); err != nil {
			return err
		}
		for _, secret := range secrets {
			copySecret := &corev1.Secret{ObjectMeta: copyMeta(secret.ObjectMeta, name+"-"+secret.Name), Data: secret.Data, Type: secret.Type}
			if _, err := c.kube.CoreV1().Secrets(ns).Create(ctx, copySecret, metav1.CreateOptions{}); err != nil {
				return err
			}
		}
		return nil
	}, func(i int) error {
		_, err := c.apps.AppsV1alpha1().VMInstances(ns).Create(ctx, newInstance(fmt.Sprintf("projected-%d", i), spec), metav1.CreateOptions{})
		return err
	})
}

// copyMeta is the labels and annotations of meta under a new name.
func copyMeta(meta metav1.ObjectMeta, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Labels: meta.Labels, Annotations: meta.Annotations}
}

// BenchmarkWatchLatencyVMDisk changes a DataVolume's label and times the
// event's arrival on a DataVolume watch and on a VMDisk watch, both open
// before the change.
func BenchmarkWatchLatencyVMDisk(b *testing.B) {
	c, ns := benchmarkDisks(b, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	native, err := c.cdi.CdiV1beta1().DataVolumes(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	projected, err := c.apps.AppsV1alpha1().VMDisks(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	benchmarkWatchLatency(b, native, projected, func(patch []byte) error {
		_, err := c.cdi.CdiV1beta1().DataVolumes(ns).Patch(ctx, "disk-0", types.MergePatchType, patch, metav1.PatchOptions{})
		return err
	})
}

// BenchmarkWatchLatencyVMInstance is BenchmarkWatchLatencyVMDisk for a
// VirtualMachine and its VMInstance.
func BenchmarkWatchLatencyVMInstance(b *testing.B) {
	c, ns := benchmarkInstances(b, 1)
	vms := kubevirtClient(b).KubevirtV1().VirtualMachines(ns)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	native, err := vms.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	projected, err := c.apps.AppsV1alpha1().VMInstances(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	benchmarkWatchLatency(b, native, projected, func(patch []byte) error {
		_, err := vms.Patch(ctx, "vm-0", types.MergePatchType, patch, metav1.PatchOptions{})
		return err
	})
}

// benchmarkWatchLatency applies a label patch per iteration and times its
// event on the native and the projected watch.
func benchmarkWatchLatency(b *testing.B, native, projected watch.Interface, patch func([]byte) error) {
	b.Helper()
	defer native.Stop()
	defer projected.Stop()
	// Both watches start with the object's ADDED event.
	for _, w := range []watch.Interface{native, projected} {
		nextEvent(b, w, "")
	}
	var nativeTotal, projectedTotal time.Duration
	i := 0
	for b.Loop() {
		value := fmt.Sprint(i)
		start := time.Now()
		if err := patch(fmt.Appendf(nil, `{"metadata":{"labels":{"round":%q}}}`, value)); err != nil {
			b.Fatal(err)
		}
		nativeTotal += nextEvent(b, native, value).Sub(start)
		projectedTotal += nextEvent(b, projected, value).Sub(start)
		i++
	}
	reportRatio(b, nativeTotal, projectedTotal, i)
}

// nextEvent waits for a MODIFIED event carrying label round=value (any
// event if value is empty) and returns when it arrived.
func nextEvent(b *testing.B, w watch.Interface, value string) time.Time {
	b.Helper()
	timeout := time.After(eventuallyTimeout)
	for {
		select {
		case event, ok := <-w.ResultChan():
			if !ok {
				b.Fatal("the watch ended")
			}
			arrived := time.Now()
			if value == "" {
				return arrived
			}
			if obj, isObject := event.Object.(metav1.Object); isObject && event.Type == watch.Modified && obj.GetLabels()["round"] == value {
				return arrived
			}
		case <-timeout:
			b.Fatalf("no event for round %s", value)
		}
	}
}
