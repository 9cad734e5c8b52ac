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
	"strconv"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

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
		rv, err := strconv.ParseUint(inst.ResourceVersion, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if rv <= last {
			t.Fatalf("event %d: resourceVersion %d after %d", i, rv, last)
		}
		last = rv
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
