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
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	appsv1alpha1 "github.com/cozystack/vm-apiserver/pkg/apis/apps/v1alpha1"
)

// Concurrent read-modify-write clients: each reads a counter kept in one
// field family, writes it back incremented with the resourceVersion it
// read, and counts the writes accepted. Every accepted write must be in the
// final value: lost = accepted - final counter.
const (
	concurrentWriters = 16
	writePeriod       = 5 * time.Second
)

// counterField keeps a counter in one field family of an object.
type counterField[T any] struct {
	name  string
	read  func(obj T) int
	write func(obj T, n int)
}

// TestConcurrentWritesLoseNothing runs concurrentWriters read-modify-write
// clients per field family for writePeriod and requires no lost update.
func TestConcurrentWritesLoseNothing(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	key := sshKey(t)
	mebibytes := func(q *resource.Quantity) int { return int(q.Value() >> 20) }
	instanceFields := []counterField[*appsv1alpha1.VMInstance]{
		{"labels", func(i *appsv1alpha1.VMInstance) int { return atoi(i.Labels["counter"]) },
			func(i *appsv1alpha1.VMInstance, n int) { setLabel(&i.ObjectMeta, "counter", n) }},
		{"running", func(i *appsv1alpha1.VMInstance) int { return atoi(i.Labels["running-counter"]) },
			func(i *appsv1alpha1.VMInstance, n int) {
				setLabel(&i.ObjectMeta, "running-counter", n)
				running := n%2 == 0
				i.Spec.Running = &running
			}},
		{"externalPorts", func(i *appsv1alpha1.VMInstance) int { return int(i.Spec.ExternalPorts[0].Port) - 1000 },
			func(i *appsv1alpha1.VMInstance, n int) {
				i.Spec.ExternalPorts = []appsv1alpha1.ExternalPort{{Port: int32(1000 + n), Protocol: "TCP", TargetPort: 22}}
			}},
		{"sshKeys", func(i *appsv1alpha1.VMInstance) int { return atoi(lastField(i.Spec.SSHKeys[0])) },
			func(i *appsv1alpha1.VMInstance, n int) { i.Spec.SSHKeys = []string{key + " " + strconv.Itoa(n)} }},
		{"cloudInit", func(i *appsv1alpha1.VMInstance) int { return atoi(lastField(i.Spec.CloudInit)) },
			func(i *appsv1alpha1.VMInstance, n int) {
				i.Spec.CloudInit = "#cloud-config\n# counter " + strconv.Itoa(n) + "\n"
			}},
		{"disks", func(i *appsv1alpha1.VMInstance) int { return mebibytes(i.Spec.Disks[0].Size) - 1024 },
			func(i *appsv1alpha1.VMInstance, n int) {
				i.Spec.Disks[0].Size = resource.NewQuantity(int64(1024+n)<<20, resource.BinarySI)
			}},
	}
	for _, f := range instanceFields {
		t.Run("VMInstance/"+f.name, func(t *testing.T) {
			name := "rmw-" + strings.ToLower(f.name)
			inst := newInstance(name, appsv1alpha1.VMInstanceSpec{
				External: f.name == "externalPorts",
				Disks:    []appsv1alpha1.VMInstanceDisk{{Name: "root", Size: quantity("1Gi")}},
			})
			f.write(inst, 0)
			instances := c.apps.AppsV1alpha1().VMInstances(ns)
			if _, err := instances.Create(ctx, inst, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			readModifyWrite(t, f.name, f,
				func(ctx context.Context) (*appsv1alpha1.VMInstance, error) {
					return instances.Get(ctx, name, metav1.GetOptions{})
				},
				func(ctx context.Context, i *appsv1alpha1.VMInstance) error {
					_, err := instances.Update(ctx, i, metav1.UpdateOptions{})
					return err
				})
		})
	}
	diskFields := []counterField[*appsv1alpha1.VMDisk]{
		{"labels", func(d *appsv1alpha1.VMDisk) int { return atoi(d.Labels["counter"]) },
			func(d *appsv1alpha1.VMDisk, n int) { setLabel(&d.ObjectMeta, "counter", n) }},
		{"storage", func(d *appsv1alpha1.VMDisk) int { return mebibytes(d.Spec.Storage) - 1024 },
			func(d *appsv1alpha1.VMDisk, n int) {
				d.Spec.Storage = resource.NewQuantity(int64(1024+n)<<20, resource.BinarySI)
			}},
	}
	for _, f := range diskFields {
		t.Run("VMDisk/"+f.name, func(t *testing.T) {
			name := "rmw-" + f.name
			disk := newDisk(name, appsv1alpha1.VMDiskSpec{})
			f.write(disk, 0)
			disks := c.apps.AppsV1alpha1().VMDisks(ns)
			if _, err := disks.Create(ctx, disk, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			if f.name == "storage" {
				// A disk grows once its claim is bound
				// (TestVMDiskGrowsByExpandingItsClaim).
				bindDiskClaim(t, c, ns, name)
			}
			readModifyWrite(t, f.name, f,
				func(ctx context.Context) (*appsv1alpha1.VMDisk, error) {
					return disks.Get(ctx, name, metav1.GetOptions{})
				},
				func(ctx context.Context, d *appsv1alpha1.VMDisk) error {
					_, err := disks.Update(ctx, d, metav1.UpdateOptions{})
					return err
				})
		})
	}
}

// readModifyWrite runs the writers against one object and checks that the
// final counter equals the writes accepted.
func readModifyWrite[T any](t *testing.T, family string, f counterField[T], get func(context.Context) (T, error), update func(context.Context, T) error) {
	ctx := context.Background()
	var accepted, conflicts atomic.Int64
	deadline := time.Now().Add(writePeriod)
	var writers sync.WaitGroup
	errs := make(chan error, concurrentWriters)
	for range concurrentWriters {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for time.Now().Before(deadline) {
				obj, err := get(ctx)
				if err != nil {
					errs <- err
					return
				}
				f.write(obj, f.read(obj)+1)
				switch err := update(ctx, obj); {
				case err == nil:
					accepted.Add(1)
				case apierrors.IsConflict(err):
					conflicts.Add(1)
				default:
					errs <- err
					return
				}
			}
		}()
	}
	writers.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a writer failed: %v", err)
	}
	final, err := get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lost := accepted.Load() - int64(f.read(final))
	t.Logf("%-14s writers=%d accepted=%d conflicts=%d lost=%d", family, concurrentWriters, accepted.Load(), conflicts.Load(), lost)
	if accepted.Load() == 0 {
		t.Fatal("no write was accepted")
	}
	if lost != 0 {
		t.Fatalf("%d accepted writes were lost (final counter %d)", lost, f.read(final))
	}
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(fmt.Sprintf("not a counter: %q", s))
	}
	return n
}

func lastField(s string) string {
	fields := strings.Fields(s)
	return fields[len(fields)-1]
}

func setLabel(meta *metav1.ObjectMeta, key string, n int) {
	if meta.Labels == nil {
		meta.Labels = map[string]string{}
	}
	meta.Labels[key] = strconv.Itoa(n)
}
