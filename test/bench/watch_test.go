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
	"math/rand/v2"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/cozystack/vm-apiserver/pkg/generated/informers/externalversions"
)

// roundLabel is the label the watch figure changes, a new value each time.
const roundLabel = "bench-round"

// eventTimeout bounds the wait for one event; they normally take
// milliseconds.
const eventTimeout = time.Minute

// arrival is a MODIFIED event's round label and when it was received.
type arrival struct {
	round string
	at    time.Time
}

// follow receives w's events as they come, so that neither watch waits for
// the benchmark to read the other, and stamps each on arrival. The channel
// closes when the watch ends.
func follow(w watch.Interface) <-chan arrival {
	out := make(chan arrival, 1024)
	go func() {
		defer close(out)
		for event := range w.ResultChan() {
			if obj, ok := event.Object.(metav1.Object); ok && event.Type == watch.Modified {
				out <- arrival{round: obj.GetLabels()[roundLabel], at: time.Now()}
			}
		}
	}()
	return out
}

// await returns when round arrives on events.
func await(events <-chan arrival, round string) (time.Time, error) {
	timeout := time.After(eventTimeout)
	for {
		select {
		case a, ok := <-events:
			if !ok {
				return time.Time{}, fmt.Errorf("the watch ended before round %s", round)
			}
			if a.round == round {
				return a.at, nil
			}
		case <-timeout:
			return time.Time{}, fmt.Errorf("no event for round %s in %s", round, eventTimeout)
		}
	}
}

// measureWatch changes a label of a random VirtualMachine and times its
// event on a VirtualMachine watch and a VMInstance watch of all
// namespaces, both open before the change: one change, timed on both.
func measureWatch(t *testing.T, c clients, cfg config, n int, res *scaleResult) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Start from now, as an informer's watch does after its list, rather
	// than receive every object as ADDED first.
	vms, err := c.kv.KubevirtV1().VirtualMachines("").List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	nw, err := c.kv.KubevirtV1().VirtualMachines("").Watch(ctx, metav1.ListOptions{ResourceVersion: vms.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer nw.Stop()
	instances, err := c.apps.AppsV1alpha1().VMInstances("").List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	pw, err := c.apps.AppsV1alpha1().VMInstances("").Watch(ctx, metav1.ListOptions{ResourceVersion: instances.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Stop()
	nativeEvents, projectedEvents := follow(nw), follow(pw)

	b := budget{iterations: 50, min: 2, time: 30 * time.Second}.within(cfg)
	var nat, proj samples
	started := time.Now()
	for i := 0; !b.done(i, started); i++ {
		o := rand.IntN(n)
		round := fmt.Sprintf("%d-%d", n, i)
		start := time.Now()
		patch := fmt.Appendf(nil, `{"metadata":{"labels":{%q:%q}}}`, roundLabel, round)
		if _, err := c.kv.KubevirtV1().VirtualMachines(objectNamespace(o)).Patch(ctx, objectName(o), types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		nativeAt, err := await(nativeEvents, round)
		if err != nil {
			t.Fatalf("native watch: %v", err)
		}
		projectedAt, err := await(projectedEvents, round)
		if err != nil {
			t.Fatalf("vm-apiserver watch: %v", err)
		}
		nat, proj = append(nat, nativeAt.Sub(start)), append(proj, projectedAt.Sub(start))
	}
	res.add(latencyRow("watch delivery, all namespaces (label change to event)", nat, proj, &target{limit: 1.2, atP99: true}))
}

// measureInformers times a client-go shared informer's initial sync for
// all VMInstances, from the generated informers, against one for the
// VirtualMachines built the same way, a fresh one each iteration.
func measureInformers(t *testing.T, c clients, cfg config, n int, res *scaleResult) {
	t.Helper()
	native := func(ctx context.Context, _ int) error {
		lw := cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
				return c.kv.KubevirtV1().VirtualMachines("").List(ctx, opts)
			},
			WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
				return c.kv.KubevirtV1().VirtualMachines("").Watch(ctx, opts)
			},
		}, c.kv)
		informer := cache.NewSharedIndexInformer(lw, &kubevirtv1.VirtualMachine{}, 0, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
		return synced(ctx, informer, nil, n)
	}
	projected := func(ctx context.Context, _ int) error {
		factory := externalversions.NewSharedInformerFactory(c.apps, 0)
		informer := factory.Apps().V1alpha1().VMInstances().Informer()
		return synced(ctx, informer, factory, n)
	}
	nat, proj, err := compare(context.Background(), budget{iterations: 3, min: 1, time: 2 * time.Minute}.within(cfg), native, projected)
	if err != nil {
		t.Fatalf("informer initial sync: %v", err)
	}
	res.add(latencyRow("informer initial sync, all namespaces", nat, proj, &target{limit: 1.5}))
}

// synced runs informer (through its factory, if any) until it has synced,
// checks that it holds want objects and stops it.
func synced(ctx context.Context, informer cache.SharedIndexInformer, factory externalversions.SharedInformerFactory, want int) error {
	ctx, cancel := context.WithCancel(ctx)
	// Stopping is not part of the sync: the factory is shut down (which
	// waits for its informers to end) after the clock has stopped.
	defer func() {
		cancel()
		if factory != nil {
			go factory.Shutdown()
		}
	}()
	if factory != nil {
		factory.Start(ctx.Done())
	} else {
		go informer.Run(ctx.Done())
	}
	// HasSynced has no notification; a fine poll keeps the measurement
	// within milliseconds of the moment it turns true.
	err := wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, 10*time.Minute, true, func(context.Context) (bool, error) {
		return informer.HasSynced(), nil
	})
	if err != nil {
		return fmt.Errorf("never synced: %w", err)
	}
	if got := len(informer.GetStore().ListKeys()); got != want {
		return fmt.Errorf("synced with %d objects, want %d", got, want)
	}
	return nil
}
