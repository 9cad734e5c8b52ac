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
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	appsv1alpha1 "github.com/cozystack/vm-apiserver/pkg/apis/apps/v1alpha1"
	"github.com/cozystack/vm-apiserver/pkg/generated/informers/externalversions"
)

// TestVMInstanceWatchOutlivesBackendWatches keeps a kubectl get -w and an
// informer open on VMInstances while the backend watches behind them end:
// on kube-apiserver's timer (vm-apiserver runs with a short
// --backend-watch-timeout here), when kube-apiserver restarts, and when the
// VirtualMachineInstance CRD is deleted and created again. A VMI IP changed
// after each must reach them.
func TestVMInstanceWatchOutlivesBackendWatches(t *testing.T) {
	c := newClients(t)
	kv := kubevirtClient(t)
	ns := newNamespace(t, c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := c.apps.AppsV1alpha1().VMInstances(ns).Create(ctx, newInstance("web", appsv1alpha1.VMInstanceSpec{}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// virt-controller makes the VMI; the addresses are what virt-handler
	// on a node would report (no node runs here).
	setVMIAddress := func(ip string) {
		t.Helper()
		setVMIRunning(t, kv, ns, "web", "node-1", ip)
	}
	runOnNode(t, c, kv, ns, "web", "node-1", "10.0.0.1")

	lines := startLines(t, env.KubectlCommand(ctx, "get", "vminstance", "-w", "-n", ns))
	lines.waitFor(t, "web", " 10.0.0.1 ")

	var mu sync.Mutex
	var seen []string
	factory := externalversions.NewSharedInformerFactoryWithOptions(c.apps, 0, externalversions.WithNamespace(ns))
	informer := factory.Apps().V1alpha1().VMInstances().Informer()
	record := func(obj interface{}) {
		if inst, ok := obj.(*appsv1alpha1.VMInstance); ok {
			mu.Lock()
			seen = append(seen, strings.Join(inst.Status.IPAddresses, ","))
			mu.Unlock()
		}
	}
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: record, UpdateFunc: func(_, obj interface{}) { record(obj) },
	}); err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		t.Fatal("the informer never synced")
	}
	informerSeesWithin := func(timeout time.Duration, ip string) {
		t.Helper()
		eventuallyWithin(t, timeout, "the informer to see "+ip, func() (bool, string) {
			mu.Lock()
			defer mu.Unlock()
			return len(seen) > 0 && seen[len(seen)-1] == ip, strings.Join(seen, " ")
		})
	}
	informerSees := func(ip string) {
		t.Helper()
		informerSeesWithin(eventuallyTimeout, ip)
	}
	informerSees("10.0.0.1")

	// Both watches' backend watches of VMs end on the backend timeout and
	// resume; the changes of VMIs come through them, recorded on the VMs.
	resumed := func() map[string]int {
		counts := map[string]int{}
		for _, line := range strings.Split(serverMetrics(t), "\n") {
			if rest, ok := strings.CutPrefix(line, "vm_apiserver_backend_watch_resumes_total{resource=\""); ok {
				resource, value, _ := strings.Cut(rest, "\"} ")
				counts[resource], _ = strconv.Atoi(value)
			}
		}
		return counts
	}
	start := resumed()
	eventually(t, "the backend watches to be resumed twice each", func() (bool, string) {
		now := resumed()
		return now["virtualmachines"] >= start["virtualmachines"]+4, fmt.Sprintf("%v -> %v", start, now)
	})
	setVMIAddress("10.0.0.2")
	lines.waitFor(t, "web", " 10.0.0.2 ")
	informerSees("10.0.0.2")

	// A restart of kube-apiserver ends every watch at once; kubectl's own
	// connection goes with it, the informer's client watches again.
	if err := env.RestartKubeAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	setVMIAddress("10.0.0.3")
	informerSees("10.0.0.3")

	// The VMI CRD goes away, taking every VMI with it, and comes back.
	crd, err := env.BackendCRD("virtualmachineinstances.kubevirt.io")
	if err != nil {
		t.Fatal(err)
	}
	kubectl(t, "delete", "-f", crd, "--wait=false")
	// A running VMI keeps its finalizers until its node let it go: this
	// test's, and those other tests left running in namespaces being
	// deleted, all of which go with the CRD.
	vmis, err := kv.KubevirtV1().VirtualMachineInstances("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, vmi := range vmis.Items {
		if vmi.Status.NodeName != "" {
			stopOnNode(t, c, vmi.Namespace, vmi.Name)
		}
	}
	kubectl(t, "wait", "--for=delete", "--timeout=60s", "-f", crd)
	informerSees("")
	// KubeVirt's VMI CRD is too large for client-side apply's annotation.
	kubectl(t, "create", "-f", crd)
	kubectl(t, "wait", "--for=condition=Established", "-f", crd)
	// virt-controller makes the running VM's VMI again.
	runOnNode(t, c, kv, ns, "web", "node-1", "10.0.0.4")
	// vm-apiserver's VMI informer lists again on client-go's reflector
	// backoff (up to 30 s) once the CRD is back, and virt-controller, which
	// exits when a CRD it watches goes, is restarted meanwhile.
	informerSeesWithin(controllerTimeout, "10.0.0.4")
}

// serverMetrics reads vm-apiserver's /metrics as cluster admin, bypassing
// the aggregator.
func serverMetrics(t *testing.T) string {
	t.Helper()
	config := rest.CopyConfig(env.Config)
	config.Host = env.ServerURL
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	body, err := client.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}
