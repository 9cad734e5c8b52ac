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

package diskprotection

import (
	"context"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	kubevirtv1 "kubevirt.io/api/core/v1"
	cdifake "kubevirt.io/client-go/containerizeddataimporter/fake"
	kubevirtfake "kubevirt.io/client-go/kubevirt/fake"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/cozystack/vm-apiserver/pkg/backend"
	"github.com/cozystack/vm-apiserver/pkg/backend/backendfake"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
	"github.com/cozystack/vm-apiserver/pkg/projection"
)

func disk(ns, name string, deleted, protected bool) *cdiv1.DataVolume {
	dv := &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{
		Namespace: ns, Name: name, UID: types.UID(ns + "-" + name),
		Labels: map[string]string{backendnames.KindLabel: backendnames.VMDiskKind},
	}}
	if deleted {
		now := metav1.Now()
		dv.DeletionTimestamp = &now
	}
	if protected {
		dv.Finalizers = []string{"other.example.com/keep", backendnames.InUseProtectionFinalizer}
	}
	return dv
}

// instance is the VirtualMachine of a VMInstance (marked unless plain)
// attaching the VMDisks disks.
func instance(ns, name string, marked bool, disks ...string) *kubevirtv1.VirtualMachine {
	vm := &kubevirtv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if marked {
		vm.Labels = map[string]string{backendnames.KindLabel: backendnames.VMInstanceKind}
	}
	vm.Spec.Template = &kubevirtv1.VirtualMachineInstanceTemplateSpec{}
	for _, d := range disks {
		vm.Spec.Template.Spec.Volumes = append(vm.Spec.Template.Spec.Volumes, kubevirtv1.Volume{
			Name: d, VolumeSource: kubevirtv1.VolumeSource{DataVolume: &kubevirtv1.DataVolumeSource{Name: d}},
		})
	}
	return vm
}

func clientsWith(dvs []*cdiv1.DataVolume, vms []*kubevirtv1.VirtualMachine) backend.Clients {
	cdi := cdifake.NewSimpleClientset()
	for _, dv := range dvs {
		if err := cdi.Tracker().Add(dv); err != nil {
			panic(err)
		}
	}
	kv := kubevirtfake.NewSimpleClientset()
	for _, vm := range vms {
		if err := kv.Tracker().Add(vm); err != nil {
			panic(err)
		}
	}
	return backend.Clients{CDI: backendfake.CDI{Clientset: cdi}, KubeVirt: backendfake.KubeVirt{Clientset: kv}}
}

func finalizers(t *testing.T, c backend.Clients, ns, name string) []string {
	t.Helper()
	dv, err := c.CDI.CdiV1beta1().DataVolumes(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return dv.Finalizers
}

// TestSync checks each decision on one DataVolume: the informers' stores
// hold what the fake clientsets hold.
func TestSync(t *testing.T) {
	for _, tc := range []struct {
		name          string
		dv            *cdiv1.DataVolume
		vms           []*kubevirtv1.VirtualMachine
		wantProtected bool
	}{
		{"deleted and unused is released", disk("ns", "data", true, true), nil, false},
		{"deleted and attached is kept", disk("ns", "data", true, true),
			[]*kubevirtv1.VirtualMachine{instance("ns", "web", true, "other", "data")}, true},
		{"a VM of another namespace does not count", disk("ns", "data", true, true),
			[]*kubevirtv1.VirtualMachine{instance("elsewhere", "web", true, "data")}, false},
		{"a VM that is not a VMInstance does not count", disk("ns", "data", true, true),
			[]*kubevirtv1.VirtualMachine{instance("ns", "plain", false, "data")}, false},
		{"a VM using other disks does not count", disk("ns", "data", true, true),
			[]*kubevirtv1.VirtualMachine{instance("ns", "web", true, "root")}, false},
		{"live and unprotected is protected", disk("ns", "data", false, false), nil, true},
		{"live and protected stays protected", disk("ns", "data", false, true), nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clients := clientsWith([]*cdiv1.DataVolume{tc.dv}, tc.vms)
			c := New(clients)
			if err := c.disks.GetStore().Add(tc.dv); err != nil {
				t.Fatal(err)
			}
			for _, vm := range tc.vms {
				if vm.Labels[backendnames.KindLabel] == backendnames.VMInstanceKind {
					if err := c.instances.GetStore().Add(vm); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := c.sync(context.Background(), "ns/data"); err != nil {
				t.Fatal(err)
			}
			got := finalizers(t, clients, "ns", "data")
			if projection.HasFinalizer(got, backendnames.InUseProtectionFinalizer) != tc.wantProtected {
				t.Fatalf("finalizers %v, want protected %v", got, tc.wantProtected)
			}
			if tc.dv.DeletionTimestamp != nil && !slices.Contains(got, "other.example.com/keep") {
				t.Fatalf("another finalizer was lost: %v", got)
			}
		})
	}
}

// TestSyncRereadsVMs checks that a VM the informer has not seen yet keeps
// the disk: the decision to release reads the VMs consistently.
func TestSyncRereadsVMs(t *testing.T) {
	dv := disk("ns", "data", true, true)
	clients := clientsWith([]*cdiv1.DataVolume{dv}, []*kubevirtv1.VirtualMachine{instance("ns", "web", true, "data")})
	c := New(clients)
	if err := c.disks.GetStore().Add(dv); err != nil {
		t.Fatal(err)
	}
	if err := c.sync(context.Background(), "ns/data"); err != nil {
		t.Fatal(err)
	}
	if got := finalizers(t, clients, "ns", "data"); !projection.HasFinalizer(got, backendnames.InUseProtectionFinalizer) {
		t.Fatalf("released although a VM attaches it: %v", got)
	}
}

// TestSyncGoneOrReplaced checks that a DataVolume that is gone, or was
// replaced by a new one of the same name, is left alone.
func TestSyncGoneOrReplaced(t *testing.T) {
	old := disk("ns", "data", true, true)
	replacement := disk("ns", "data", false, true)
	replacement.UID = "new"
	clients := clientsWith([]*cdiv1.DataVolume{replacement}, nil)
	c := New(clients)
	if err := c.disks.GetStore().Add(old); err != nil {
		t.Fatal(err)
	}
	if err := c.sync(context.Background(), "ns/data"); err != nil {
		t.Fatal(err)
	}
	if got := finalizers(t, clients, "ns", "data"); !projection.HasFinalizer(got, backendnames.InUseProtectionFinalizer) {
		t.Fatalf("the new DataVolume lost its protection: %v", got)
	}
	if err := c.sync(context.Background(), "ns/missing"); err != nil {
		t.Fatal(err)
	}
}

// TestRunReleasesWhenDetached runs the controller: a deleted disk stays
// while a VMInstance attaches it and is released once the VMInstance
// detaches it, and another once its VMInstance is deleted.
func TestRunReleasesWhenDetached(t *testing.T) {
	clients := clientsWith(
		[]*cdiv1.DataVolume{disk("ns", "data", true, true), disk("ns", "logs", true, true), disk("ns", "old", false, false)},
		[]*kubevirtv1.VirtualMachine{instance("ns", "web", true, "data"), instance("ns", "db", true, "logs")},
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go New(clients).Run(ctx)

	protected := func(name string) bool {
		return projection.HasFinalizer(finalizers(t, clients, "ns", name), backendnames.InUseProtectionFinalizer)
	}
	eventually := func(what string, cond func() bool) {
		t.Helper()
		if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
			return cond(), nil
		}); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	eventually("a disk made before the finalizer to be protected", func() bool { return protected("old") })
	if !protected("data") || !protected("logs") {
		t.Fatal("an attached disk was released")
	}

	vms := clients.KubeVirt.KubevirtV1().VirtualMachines("ns")
	detached := instance("ns", "web", true)
	if _, err := vms.Update(ctx, detached, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("the detached disk to be released", func() bool { return !protected("data") })
	if !protected("logs") {
		t.Fatal("a disk still attached was released")
	}
	if err := vms.Delete(ctx, "db", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("the disk of the deleted VMInstance to be released", func() bool { return !protected("logs") })
}

// TestRunRecordsUsers runs the controller: each disk records the
// VMInstances that attach it, sorted, and the record follows attaching and
// detaching; a disk nobody attaches gets no record.
func TestRunRecordsUsers(t *testing.T) {
	clients := clientsWith(
		[]*cdiv1.DataVolume{disk("ns", "data", false, true), disk("ns", "spare", false, true)},
		[]*kubevirtv1.VirtualMachine{instance("ns", "web", true, "data"), instance("ns", "db", true, "data"), instance("ns", "plain", false, "data")},
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go New(clients).Run(ctx)

	recorded := func(name string) (string, bool) {
		dv, err := clients.CDI.CdiV1beta1().DataVolumes("ns").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		users, ok := dv.Annotations[backendnames.UsedByAnnotation]
		return users, ok
	}
	eventually := func(what, want string) {
		t.Helper()
		if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
			got, _ := recorded("data")
			return got == want, nil
		}); err != nil {
			got, _ := recorded("data")
			t.Fatalf("%s: recorded %q, want %q", what, got, want)
		}
	}
	eventually("both VMInstances, sorted, not the plain VM", "db,web")
	vms := clients.KubeVirt.KubevirtV1().VirtualMachines("ns")
	if _, err := vms.Update(ctx, instance("ns", "web", true), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("the detach", "db")
	if err := vms.Delete(ctx, "db", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("the deleted VMInstance gone", "")
	if users, ok := recorded("spare"); ok {
		t.Fatalf("a disk nobody ever attached got a record: %q", users)
	}
}
