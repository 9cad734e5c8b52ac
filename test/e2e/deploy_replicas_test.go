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
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	appsv1alpha1 "github.com/cozystack/vm-apiserver/pkg/apis/apps/v1alpha1"
	"github.com/cozystack/vm-apiserver/test/environment"
)

// balancer is a TCP load balancer on 127.0.0.1 in front of vm-apiserver
// replicas, as a Service is: each new connection goes to the next replica
// whose /readyz answers ok (polled every 100 ms, as a kubelet's readiness
// probe feeds the Service's endpoints); open connections stay where they are.
type balancer struct {
	listener net.Listener
	backends []*backend
	next     atomic.Int64
	wg       sync.WaitGroup
	cancel   context.CancelFunc
}

type backend struct {
	url, addr string
	ready     atomic.Bool
	conns     atomic.Int64
}

func startBalancer(t *testing.T, servers ...*environment.ServerProcess) *balancer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &balancer{listener: l, cancel: cancel}
	for _, s := range servers {
		be := &backend{url: s.URL, addr: s.URL[len("https://"):]}
		be.ready.Store(s.Ready(ctx))
		b.backends = append(b.backends, be)
	}
	b.wg.Add(2)
	go func() {
		defer b.wg.Done()
		ticker := time.NewTicker(100 * time.Millisecond)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
			for _, be := range b.backends {
				be.ready.Store(environment.Ready(ctx, be.url))
			}
		}
	}()
	go func() {
		defer b.wg.Done()
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go b.serve(conn)
		}
	}()
	t.Cleanup(b.stop)
	return b
}

func (b *balancer) port() int { return b.listener.Addr().(*net.TCPAddr).Port }

func (b *balancer) stop() {
	b.cancel()
	b.listener.Close()
	b.wg.Wait()
}

func (b *balancer) serve(client net.Conn) {
	defer client.Close()
	var target *backend
	for i := 0; i < len(b.backends); i++ {
		be := b.backends[int(b.next.Add(1))%len(b.backends)]
		if be.ready.Load() {
			target = be
			break
		}
	}
	if target == nil {
		return
	}
	server, err := net.Dial("tcp", target.addr)
	if err != nil {
		return
	}
	defer server.Close()
	target.conns.Add(1)
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(server, client); done <- struct{}{} }()
	go func() { _, _ = io.Copy(client, server); done <- struct{}{} }()
	<-done
}

// TestDeployTwoReplicasRollingRestart runs two vm-apiserver processes
// behind the one APIService (through a TCP balancer, as the Deployment's
// two pods are behind the Service) and restarts them one after the other,
// as a rolling update does, with SIGTERM and the default shutdown flags.
// Meanwhile a client-go informer watches VMDisks and four writers create and
// update them with client-go's own retries and nothing more: no write may
// fail, the watch may end (cleanly) but never fail, and the informer must
// end up with every write.
func TestDeployTwoReplicasRollingRestart(t *testing.T) {
	ctx := context.Background()
	c := newClients(t)
	ns := newNamespace(t, c)

	var replicas []*environment.ServerProcess
	for _, name := range []string{"vm-apiserver-replica-a", "vm-apiserver-replica-b"} {
		s, err := env.StartServerProcess(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Stop() })
		replicas = append(replicas, s)
	}
	lb := startBalancer(t, replicas...)
	// Put the APIService back on the environment's own server whatever
	// happens; it is the other tests' server.
	t.Cleanup(func() {
		if err := env.PointAPIService(context.Background(), env.ServerPort()); err != nil {
			t.Errorf("restoring the APIService: %v", err)
		}
	})
	if err := env.PointAPIService(ctx, lb.port()); err != nil {
		t.Fatal(err)
	}
	// The aggregator now dials the balancer.
	eventually(t, "requests through the balancer", func() (bool, string) {
		_, err := c.apps.AppsV1alpha1().VMDisks(ns).List(ctx, metav1.ListOptions{})
		n := lb.backends[0].conns.Load() + lb.backends[1].conns.Load()
		return err == nil && n > 0, fmt.Sprintf("%d connections, list: %v", n, err)
	})

	// The informer: watch failures would go to the error handler.
	disks := c.apps.AppsV1alpha1().VMDisks(ns)
	informer := cache.NewSharedIndexInformer(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return disks.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return disks.Watch(ctx, o)
		},
	}, &appsv1alpha1.VMDisk{}, 0, cache.Indexers{})
	var watchErrors []string
	var mu sync.Mutex
	if err := informer.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		mu.Lock()
		defer mu.Unlock()
		watchErrors = append(watchErrors, err.Error())
	}); err != nil {
		t.Fatal(err)
	}
	informerCtx, stopInformer := context.WithCancel(ctx)
	defer stopInformer()
	go informer.RunWithContext(informerCtx)
	if !cache.WaitForCacheSync(informerCtx.Done(), informer.HasSynced) {
		t.Fatal("informer never synced")
	}

	// The writers: each creates a disk and updates an earlier one of its
	// own, over and over. Several at once keep requests in flight on the
	// aggregator's connections when a replica goes.
	const writers = 4
	type written struct{ name, generation string }
	var (
		writes      []written
		writeErrors []string
		created     atomic.Int64
	)
	writerCtx, stopWriter := context.WithCancel(ctx)
	var writing sync.WaitGroup
	for w := range writers {
		writing.Add(1)
		go func() {
			defer writing.Done()
			var own []written
			defer func() {
				mu.Lock()
				defer mu.Unlock()
				writes = append(writes, own...)
			}()
			failed := func(format string, args ...any) {
				mu.Lock()
				defer mu.Unlock()
				writeErrors = append(writeErrors, fmt.Sprintf(format, args...))
			}
			for i := 0; writerCtx.Err() == nil; i++ {
				name := fmt.Sprintf("disk-%d-%d", w, i)
				if _, err := disks.Create(ctx, newDisk(name, appsv1alpha1.VMDiskSpec{}), metav1.CreateOptions{}); err != nil {
					failed("create %s: %v", name, err)
					continue
				}
				own = append(own, written{name: name, generation: "0"})
				created.Add(1)
				k := (i * 7) % len(own)
				gen := fmt.Sprint(i)
				patch := fmt.Sprintf(`{"metadata":{"labels":{"write":%q}}}`, gen)
				if _, err := disks.Patch(ctx, own[k].name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
					failed("patch %s: %v", own[k].name, err)
					continue
				}
				own[k].generation = gen
			}
		}()
	}

	// The rolling restart, one replica at a time, each back and ready
	// before the next goes.
	started := time.Now()
	for i, s := range replicas {
		if err := s.Stop(); err != nil {
			t.Errorf("replica %d did not exit cleanly on SIGTERM: %v", i, err)
		}
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the balancer to see the replica ready", func() (bool, string) {
			return lb.backends[i].ready.Load(), "not ready"
		})
	}
	restarted := time.Since(started)
	// Some more writes with both replicas back.
	after := created.Load()
	eventually(t, "more writes after the restarts", func() (bool, string) {
		return created.Load() >= after+10, fmt.Sprintf("%d writes", created.Load()-after)
	})
	stopWriter()
	writing.Wait()
	t.Logf("rolling restart took %v; %d disks created, balancer connections %d/%d",
		restarted.Round(time.Millisecond), len(writes), lb.backends[0].conns.Load(), lb.backends[1].conns.Load())

	for _, e := range writeErrors {
		t.Errorf("write failed: %s", e)
	}
	if len(writes) < 20 {
		t.Errorf("only %d writes during the restarts", len(writes))
	}
	eventually(t, "the informer to have every write", func() (bool, string) {
		for _, w := range writes {
			obj, ok, _ := informer.GetStore().GetByKey(ns + "/" + w.name)
			if !ok {
				return false, w.name + " missing"
			}
			if got := obj.(*appsv1alpha1.VMDisk).Labels["write"]; w.generation != "0" && got != w.generation {
				return false, fmt.Sprintf("%s has write %q, want %q", w.name, got, w.generation)
			}
		}
		return true, ""
	})
	mu.Lock()
	defer mu.Unlock()
	for _, e := range watchErrors {
		t.Errorf("informer watch failed: %s", e)
	}
}
