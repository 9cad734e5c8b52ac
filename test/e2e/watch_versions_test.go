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
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/util/retry"

	appsv1alpha1 "github.com/cozystack/vm-apiserver/pkg/apis/apps/v1alpha1"
)

// TestWatchShowsEachWriteOnceWhole writes a VMInstance several times, each
// write several backend objects, and watches it: every write shows up as one
// event with the write's own resourceVersion and its complete object (never
// a half-written one), resourceVersions increase strictly along the stream,
// and the same state is never sent twice.
func TestWatchShowsEachWriteOnceWhole(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	instances := c.apps.AppsV1alpha1().VMInstances(ns)
	w, err := instances.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	key := sshKey(t)
	spec := appsv1alpha1.VMInstanceSpec{External: true, ExternalPorts: []appsv1alpha1.ExternalPort{{Port: 22}}, SSHKeys: []string{key}, CloudInit: "#cloud-config\nhostname: a\n"}
	created, err := instances.Create(ctx, newInstance("web", spec), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	written := []string{created.ResourceVersion}
	specs := []appsv1alpha1.VMInstanceSpec{created.Spec}
	for _, patch := range []string{
		`{"spec":{"cloudInit":"#cloud-config\nhostname: b\n"}}`,
		`{"spec":{"externalPorts":[{"port":2222}]}}`,
		`{"spec":{"sshKeys":[]}}`,
		`{"spec":{"external":false}}`,
	} {
		updated, err := instances.Patch(ctx, "web", types.MergePatchType, []byte(patch), metav1.PatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		written = append(written, updated.ResourceVersion)
		specs = append(specs, updated.Spec)
	}

	var last uint64
	for i := 0; i < len(written); {
		want := written[i]
		event := nextInstanceEvent(t, w)
		inst := event.Object.(*appsv1alpha1.VMInstance)
		after(t, &last, event)
		// virt-controller writes the VM's status between the writes: such
		// an event shows the last write's complete spec, never a part of
		// the next.
		if i > 0 && event.Type == watch.Modified && inst.ResourceVersion != want && equality.Semantic.DeepEqual(inst.Spec, specs[i-1]) {
			continue
		}
		wantType := watch.Modified
		if i == 0 {
			wantType = watch.Added
			if len(inst.Spec.SSHKeys) != 1 || inst.Spec.CloudInit == "" || len(inst.Spec.ExternalPorts) != 1 {
				t.Fatalf("ADDED shows a half-made VMInstance: %+v", inst.Spec)
			}
		}
		if event.Type != wantType || inst.ResourceVersion != want {
			t.Fatalf("event %d: %s at %s, want %s at the write's %s", i, event.Type, inst.ResourceVersion, wantType, want)
		}
		i++
	}
	if err := instances.Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// Until virt-controller lets its finalizer go, the VM, and so the
	// VMInstance, is shown being deleted, as any object with finalizers is;
	// then it is gone. Nothing else comes.
	for {
		event := nextInstanceEvent(t, w)
		if event.Type == watch.Deleted {
			break
		}
		if inst := event.Object.(*appsv1alpha1.VMInstance); event.Type != watch.Modified || inst.DeletionTimestamp == nil {
			t.Fatalf("after the writes: %s %+v, want the VMInstance being deleted, then DELETED", event.Type, event.Object)
		}
	}
}

func nextInstanceEvent(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case event, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("the watch ended")
		}
		if _, ok := event.Object.(*appsv1alpha1.VMInstance); !ok {
			t.Fatalf("unexpected %s event: %+v", event.Type, event.Object)
		}
		return event
	case <-time.After(eventuallyTimeout):
		t.Fatal("no event")
	}
	return watch.Event{}
}

// TestWatchOrdersChangesAcrossVMInstances changes one VMInstance only
// through its Service (a load balancer's address, as a load balancer
// controller writes it) and another through its own spec, both at once,
// and watches them together: resourceVersions increase strictly along the
// one stream, and a watch resumed from any event's resourceVersion, applied
// over what the stream had shown up to it, ends at the same state; no
// change is lost to a client that resumes.
func TestWatchOrdersChangesAcrossVMInstances(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	instances := c.apps.AppsV1alpha1().VMInstances(ns)
	external := appsv1alpha1.VMInstanceSpec{External: true, ExternalPorts: []appsv1alpha1.ExternalPort{{Port: 22}}}
	for _, name := range []string{"lb", "labels"} {
		if _, err := instances.Create(ctx, newInstance(name, external), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	list, err := instances.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	start := list.ResourceVersion
	w, err := instances.Watch(ctx, metav1.ListOptions{ResourceVersion: start})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	const changes = 8
	done := make(chan error, 2)
	go func() {
		for i := range changes {
			err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
				svc, err := c.kube.CoreV1().Services(ns).Get(ctx, "lb", metav1.GetOptions{})
				if err != nil {
					return err
				}
				svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: fmt.Sprintf("203.0.113.%d", i+1)}}
				_, err = c.kube.CoreV1().Services(ns).UpdateStatus(ctx, svc, metav1.UpdateOptions{})
				return err
			})
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	go func() {
		for i := range changes {
			patch := fmt.Sprintf(`{"metadata":{"labels":{"change":"%d"}}}`, i+1)
			if _, err := instances.Patch(ctx, "labels", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	final := func(shown map[string]*appsv1alpha1.VMInstance) bool {
		return shown["lb"] != nil && shown["lb"].Status.ExternalIP == fmt.Sprintf("203.0.113.%d", changes) &&
			shown["labels"] != nil && shown["labels"].Labels["change"] == fmt.Sprint(changes)
	}

	// The stream: every event's resourceVersion above the one before.
	shown := map[string]*appsv1alpha1.VMInstance{}
	for _, inst := range list.Items {
		shown[inst.Name] = inst.DeepCopy()
	}
	type seen struct {
		resourceVersion string
		shown           map[string]*appsv1alpha1.VMInstance
	}
	var stream []seen
	last, _ := strconv.ParseUint(start, 10, 64)
	for !final(shown) {
		event := nextInstanceEvent(t, w)
		inst := event.Object.(*appsv1alpha1.VMInstance)
		after(t, &last, event)
		shown[inst.Name] = inst
		snapshot := map[string]*appsv1alpha1.VMInstance{}
		for k, v := range shown {
			snapshot[k] = v
		}
		stream = append(stream, seen{inst.ResourceVersion, snapshot})
	}

	// Each resumption, over what the stream had shown up to its start,
	// reaches the same end.
	for _, from := range stream {
		resumed, err := instances.Watch(ctx, metav1.ListOptions{ResourceVersion: from.resourceVersion})
		if err != nil {
			t.Fatal(err)
		}
		state := map[string]*appsv1alpha1.VMInstance{}
		for k, v := range from.shown {
			state[k] = v
		}
		for !final(state) {
			select {
			case event, ok := <-resumed.ResultChan():
				if !ok {
					t.Fatalf("the watch resumed from %s ended", from.resourceVersion)
				}
				inst := event.Object.(*appsv1alpha1.VMInstance)
				state[inst.Name] = inst
			case <-time.After(eventuallyTimeout):
				t.Fatalf("a watch resumed from %s never reached the end: lb %q, labels %q", from.resourceVersion,
					state["lb"].Status.ExternalIP, state["labels"].Labels["change"])
			}
		}
		resumed.Stop()
	}
	t.Logf("%d events, each resumed from", len(stream))
}

// after checks that event's resourceVersion is above last, and makes it
// the last.
func after(t *testing.T, last *uint64, event watch.Event) {
	t.Helper()
	inst := event.Object.(*appsv1alpha1.VMInstance)
	rv, err := strconv.ParseUint(inst.ResourceVersion, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if rv <= *last {
		t.Fatalf("%s %s at resourceVersion %d after %d", event.Type, inst.Name, rv, *last)
	}
	*last = rv
}
