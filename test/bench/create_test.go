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

package bench

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	appsv1alpha1 "github.com/cozystack/vm-apiserver/pkg/apis/apps/v1alpha1"
)

// createClients write at once in the CREATE figure.
const createClients = 16

// createPath is one way of creating an external VMInstance's worth of
// objects.
type createPath struct {
	name   string
	create func(ctx context.Context, ns, name string) error
	// latencies of single creates, objects created, time spent in bursts.
	latencies samples
	objects   int
	busy      time.Duration
}

func (p *createPath) rate() float64 { return float64(p.objects) / p.busy.Seconds() }

// burst has createClients clients create perClient objects each, one after
// another, and adds the burst's time and every create's latency.
func (p *createPath) burst(ctx context.Context, ns, prefix string, perClient int) error {
	var (
		mu        sync.Mutex
		wg        sync.WaitGroup
		latencies samples
		failure   error
	)
	start := time.Now()
	for client := range createClients {
		wg.Go(func() {
			for j := range perClient {
				began := time.Now()
				err := p.create(ctx, ns, fmt.Sprintf("%s-%d-%d", prefix, client, j))
				mu.Lock()
				latencies = append(latencies, time.Since(began))
				if err != nil && failure == nil {
					failure = fmt.Errorf("%s: %w", p.name, err)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	p.busy += time.Since(start)
	p.latencies = append(p.latencies, latencies...)
	p.objects += createClients * perClient
	return failure
}

// measureCreates compares creating external VMInstances (VM, Service, two
// Secrets) through vm-apiserver with creating the same VirtualMachine
// alone, and the same VM, Service and Secrets, directly: the issue's
// target is against the VirtualMachine alone. Each round runs a burst of
// each path, in turn first, in a namespace deleted afterwards.
func measureCreates(t *testing.T, p *population, cfg config, n int, res *scaleResult) {
	t.Helper()
	ctx := context.Background()
	ns := fmt.Sprintf("bench-create-%d", n)
	if _, err := p.c.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer removeNamespace(t, p.c, ns, n == cfg.scales[len(cfg.scales)-1])
	external := p.shapes[0]
	spec := external.spec
	paths := []*createPath{
		{name: "VMInstance", create: func(ctx context.Context, ns, name string) error {
			_, err := p.c.apps.AppsV1alpha1().VMInstances(ns).Create(ctx, &appsv1alpha1.VMInstance{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}, metav1.CreateOptions{})
			return err
		}},
		{name: "VirtualMachine", create: func(ctx context.Context, ns, name string) error {
			_, err := p.copyVM(ctx, external, ns, name)
			return err
		}},
		{name: "VM+Service+Secrets", create: func(ctx context.Context, ns, name string) error {
			return p.copy(ctx, external, ns, name, false)
		}},
	}
	// Four creates per client and burst, one when BENCH_ITERATIONS asks
	// for a quick run.
	perClient := 4
	if cfg.iterations > 0 {
		perClient = 1
	}
	b := budget{iterations: 2, min: 1, time: 90 * time.Second}.within(cfg)
	started := time.Now()
	for round := 0; !b.done(round, started); round++ {
		for k := range paths {
			path := paths[(round+k)%len(paths)]
			if err := path.burst(ctx, ns, fmt.Sprintf("%c%d", "pvf"[(round+k)%len(paths)], round), perClient); err != nil {
				t.Fatalf("CREATE: %v", err)
			}
		}
	}
	projected := paths[0]
	for _, native := range paths[1:] {
		var tgt *target
		if native.name == "VirtualMachine" {
			tgt = &target{limit: 0.5, atLeast: true}
		}
		r := ratioOfRates(projected, native)
		res.add(row{
			figure:      fmt.Sprintf("CREATE throughput, %d clients, VMInstance vs %s", createClients, native.name),
			projected50: fmt.Sprintf("%.1f/s", projected.rate()), projected99: "",
			native50: fmt.Sprintf("%.1f/s", native.rate()), native99: "",
			ratio50: fmt.Sprintf("%.2f× (rate)", r), target: tgt.String(), verdict: tgt.verdict(r, r),
			samples: projected.objects,
		})
	}
	for _, native := range paths[1:] {
		res.add(latencyRow(fmt.Sprintf("CREATE latency, VMInstance vs %s", native.name), native.latencies, projected.latencies, nil))
	}
}

// removeNamespace deletes the CREATE figure's namespace. Unless last, its
// VMs are gone before the next scale populates, since the lists count
// exactly the population; they are deleted directly: the namespace
// controller alone, retrying with growing pauses while virt-controller let
// go of each VM (their finalizer), took 50 s at 1,000, and longer than
// populating 9,000 copies when left to run alongside. The Services and
// Secrets, which no figure lists, go with the namespace meanwhile.
func removeNamespace(t *testing.T, c clients, ns string, last bool) {
	t.Helper()
	ctx := context.Background()
	if !last {
		vms := c.kv.KubevirtV1().VirtualMachines(ns)
		if err := vms.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
			t.Fatalf("deleting the VMs in %s: %v", ns, err)
		}
		poll(t, "the VMs in "+ns+" to be deleted", time.Second, 5*time.Minute, func(ctx context.Context) (bool, string) {
			list, err := vms.List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err.Error()
			}
			return len(list.Items) == 0, fmt.Sprintf("%d left", len(list.Items))
		})
	}
	if err := c.kube.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

func ratioOfRates(projected, native *createPath) float64 {
	if native.rate() == 0 {
		return 0
	}
	return projected.rate() / native.rate()
}
