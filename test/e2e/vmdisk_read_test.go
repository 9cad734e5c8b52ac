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
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	appsv1alpha1 "github.com/cozystack/vm-apiserver/pkg/apis/apps/v1alpha1"
	"github.com/cozystack/vm-apiserver/pkg/generated/informers/externalversions"
)

// populatedClaim makes a claim named disk that CDI takes as already
// holding the disk (annotation cdi.kubevirt.io/storage.populatedFor), as a
// restore or a migration leaves one. A VMDisk created after it is one
// cdi-controller itself reports Succeeded: no node runs here, so no
// importer pod ever finishes an import, and no test writes the
// DataVolume's status, which cdi-controller writes.
func populatedClaim(t *testing.T, c clients, ns, disk string) {
	t.Helper()
	class := "replicated"
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: disk, Annotations: map[string]string{"cdi.kubevirt.io/storage.populatedFor": disk}},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: &class,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("5Gi")}},
		},
	}
	if _, err := c.kube.CoreV1().PersistentVolumeClaims(ns).Create(context.Background(), claim, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// dataVolumeWithPhase waits for cdi-controller to give DataVolume name a
// phase and a claim, and returns it.
func dataVolumeWithPhase(t *testing.T, c clients, ns, name string) *cdiv1.DataVolume {
	t.Helper()
	var dv *cdiv1.DataVolume
	eventually(t, "cdi-controller to report DataVolume "+name, func() (bool, string) {
		var err error
		dv, err = c.cdi.CdiV1beta1().DataVolumes(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return dv.Status.Phase != "" && dv.Status.ClaimName != "", fmt.Sprintf("%+v", dv.Status)
	})
	return dv
}

// TestVMDiskStatusFromDataVolume checks that status is read from the
// DataVolume, as cdi-controller writes it: without a node an import never
// starts, so the phase is the one it reports for a disk waiting for its
// volume (WaitForFirstConsumer or PendingPopulation), and the disk is not
// Ready; a disk whose claim already holds it is Succeeded and Ready.
func TestVMDiskStatusFromDataVolume(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	if _, err := c.apps.AppsV1alpha1().VMDisks(ns).Create(ctx, newDisk("importing", appsv1alpha1.VMDiskSpec{}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	populatedClaim(t, c, ns, "restored")
	if _, err := c.apps.AppsV1alpha1().VMDisks(ns).Create(ctx, newDisk("restored", appsv1alpha1.VMDiskSpec{}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, ready string
		phases      []string
	}{
		{"importing", "False", []string{"WaitForFirstConsumer", "PendingPopulation"}},
		{"restored", "True", []string{"Succeeded"}},
	} {
		var disk *appsv1alpha1.VMDisk
		var dv *cdiv1.DataVolume
		eventually(t, "VMDisk "+tc.name+" to show cdi-controller's phase", func() (bool, string) {
			dv = dataVolumeWithPhase(t, c, ns, tc.name)
			var err error
			if disk, err = c.apps.AppsV1alpha1().VMDisks(ns).Get(ctx, tc.name, metav1.GetOptions{}); err != nil {
				return false, err.Error()
			}
			// cdi-controller may have moved on between the two reads.
			return disk.ResourceVersion == dv.ResourceVersion && slices.Contains(tc.phases, string(dv.Status.Phase)), string(dv.Status.Phase)
		})
		s := disk.Status
		conditions := map[string]metav1.ConditionStatus{}
		for _, c := range s.Conditions {
			conditions[c.Type] = c.Status
		}
		if s.Phase != string(dv.Status.Phase) || s.Progress != string(dv.Status.Progress) || s.ClaimName != dv.Status.ClaimName ||
			s.ObservedGeneration != disk.Generation || string(conditions["Ready"]) != tc.ready {
			t.Errorf("%s: status %+v, DataVolume status %+v", tc.name, s, dv.Status)
		}
		for _, dc := range dv.Status.Conditions {
			if dc.Type != "Ready" && conditions[string(dc.Type)] != metav1.ConditionStatus(dc.Status) {
				t.Errorf("%s: condition %s is %s, the DataVolume's %s", tc.name, dc.Type, conditions[string(dc.Type)], dc.Status)
			}
		}
	}
	rows := tableRows(t, kubectl(t, "get", "vmdisk", "restored", "-n", ns))
	if got := strings.Join(rows[1][:2], " "); got != "restored Succeeded" {
		t.Fatalf("kubectl get row: %v", rows[1])
	}
}

// TestKubectlWatchSeesDataVolumeStatus runs `kubectl get vmdisk -w` and
// sees cdi-controller's status writes: a disk whose claim already holds it
// turns Succeeded (without a node, no import makes progress to watch).
func TestKubectlWatchSeesDataVolumeStatus(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lines := startLines(t, env.KubectlCommand(ctx, "get", "vmdisk", "-w", "-n", ns))
	populatedClaim(t, c, ns, "watched")
	if _, err := c.apps.AppsV1alpha1().VMDisks(ns).Create(ctx, newDisk("watched", appsv1alpha1.VMDiskSpec{}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	lines.waitFor(t, "watched", "Succeeded")
}

// TestVMDiskInformer builds an informer from the generated clientset and
// checks that it syncs and sees adds, updates and deletes.
func TestVMDiskInformer(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	disks := c.apps.AppsV1alpha1().VMDisks(ns)
	if _, err := disks.Create(ctx, newDisk("before", appsv1alpha1.VMDiskSpec{}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	factory := externalversions.NewSharedInformerFactoryWithOptions(c.apps, 0, externalversions.WithNamespace(ns))
	informer := factory.Apps().V1alpha1().VMDisks()
	events := make(chan string, 100)
	if _, err := informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj interface{}) { events <- "add " + obj.(*appsv1alpha1.VMDisk).Name },
		UpdateFunc: func(_, obj interface{}) {
			d := obj.(*appsv1alpha1.VMDisk)
			events <- "update " + d.Name + " " + d.Status.Phase
		},
		DeleteFunc: func(obj interface{}) {
			if d, ok := obj.(*appsv1alpha1.VMDisk); ok {
				events <- "delete " + d.Name
			}
		},
	}); err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	syncCtx, syncCancel := context.WithTimeout(ctx, eventuallyTimeout)
	defer syncCancel()
	if !cache.WaitForCacheSync(syncCtx.Done(), informer.Informer().HasSynced) {
		t.Fatal("the informer never synced")
	}
	if _, err := informer.Lister().VMDisks(ns).Get("before"); err != nil {
		t.Fatalf("the lister misses an object that existed before: %v", err)
	}
	expect := func(want string) {
		t.Helper()
		timeout := time.After(eventuallyTimeout)
		for {
			select {
			case got := <-events:
				if got == want {
					return
				}
			case <-timeout:
				t.Fatalf("the informer never saw %q", want)
			}
		}
	}
	expect("add before")
	// cdi-controller reports the disk Succeeded: its claim holds it already.
	populatedClaim(t, c, ns, "after")
	if _, err := disks.Create(ctx, newDisk("after", appsv1alpha1.VMDiskSpec{}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	expect("add after")
	expect("update after Succeeded")
	if err := disks.Delete(ctx, "after", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	expect("delete after")
}

// TestVMDiskWatchList checks the WatchList protocol directly: existing
// objects replayed, then a bookmark marking the end of the initial events.
func TestVMDiskWatchList(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), eventuallyTimeout)
	defer cancel()
	for _, name := range []string{"one", "two"} {
		if _, err := c.apps.AppsV1alpha1().VMDisks(ns).Create(ctx, newDisk(name, appsv1alpha1.VMDiskSpec{}), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	sendInitialEvents := true
	w, err := c.apps.AppsV1alpha1().VMDisks(ns).Watch(ctx, metav1.ListOptions{
		SendInitialEvents:    &sendInitialEvents,
		ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan,
		AllowWatchBookmarks:  true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var added []string
	for event := range w.ResultChan() {
		switch event.Type {
		case watch.Added:
			added = append(added, event.Object.(*appsv1alpha1.VMDisk).Name)
		case watch.Bookmark:
			d := event.Object.(*appsv1alpha1.VMDisk)
			if d.Annotations[metav1.InitialEventsAnnotationKey] != "true" {
				continue
			}
			if strings.Join(added, ",") != "one,two" || d.ResourceVersion == "" {
				t.Fatalf("initial events %v, bookmark resourceVersion %q", added, d.ResourceVersion)
			}
			return
		default:
			t.Fatalf("unexpected %s event: %+v", event.Type, event.Object)
		}
	}
	t.Fatal("the watch ended without the initial-events-end bookmark")
}

// TestVMDiskListing checks selectors, paging and that DataVolumes which are
// not VMDisks stay hidden.
func TestVMDiskListing(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	disks := c.apps.AppsV1alpha1().VMDisks(ns)
	for _, name := range []string{"a", "b", "c"} {
		d := newDisk(name, appsv1alpha1.VMDiskSpec{})
		d.Labels = map[string]string{"tier": map[string]string{"a": "gold", "b": "gold", "c": "bronze"}[name]}
		if _, err := disks.Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	plain := &cdiv1.DataVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "not-a-vmdisk", Labels: map[string]string{"tier": "gold"}},
		// CDI's webhook refuses a DataVolume without a size.
		Spec: cdiv1.DataVolumeSpec{Source: &cdiv1.DataVolumeSource{Blank: &cdiv1.DataVolumeBlankImage{}},
			Storage: &cdiv1.StorageSpec{Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: *quantity("1Gi")}}}},
	}
	if _, err := c.cdi.CdiV1beta1().DataVolumes(ns).Create(ctx, plain, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	names := func(list *appsv1alpha1.VMDiskList) string {
		var out []string
		for _, d := range list.Items {
			out = append(out, d.Name)
		}
		return strings.Join(out, ",")
	}
	list, err := disks.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if names(list) != "a,b,c" {
		t.Fatalf("list: %s", names(list))
	}
	if list, err = disks.List(ctx, metav1.ListOptions{LabelSelector: "tier=gold"}); err != nil || names(list) != "a,b" {
		t.Fatalf("label selector tier=gold: %v %v", names(list), err)
	}
	if list, err = disks.List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=b"}); err != nil || names(list) != "b" {
		t.Fatalf("field selector metadata.name=b: %v %v", names(list), err)
	}
	if _, err = disks.List(ctx, metav1.ListOptions{FieldSelector: "spec.nothing=x"}); !apierrors.IsBadRequest(err) {
		t.Fatalf("an unknown field selector should be 400, got %v", err)
	}
	if _, err := disks.Get(ctx, "not-a-vmdisk", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a DataVolume without the marker label must not read as a VMDisk: %v", err)
	}

	var paged []string
	opts := metav1.ListOptions{Limit: 1}
	for {
		page, err := disks.List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) > 1 {
			t.Fatalf("limit 1 returned %d items", len(page.Items))
		}
		// kube-apiserver may end on an empty page: it cannot know whether
		// objects after the last match would match the selector.
		if len(page.Items) == 1 {
			paged = append(paged, page.Items[0].Name)
		}
		if page.Continue == "" {
			break
		}
		opts.Continue = page.Continue
	}
	if strings.Join(paged, ",") != "a,b,c" {
		t.Fatalf("pages: %v", paged)
	}

	out := kubectl(t, "get", "vmdisk", "-n", ns, "--chunk-size=1", "-o", "json")
	var printed appsv1alpha1.VMDiskList
	if err := json.NewDecoder(io.Reader(strings.NewReader(out))).Decode(&printed); err != nil {
		t.Fatal(err)
	}
	if names(&printed) != "a,b,c" {
		t.Fatalf("kubectl --chunk-size=1: %s", names(&printed))
	}
}

// TestVMDiskWatchFollowsUsedBy attaches a VMDisk to a VMInstance and
// detaches it again, and watches the VMDisk: each change of usedBy comes
// as a MODIFIED with a resourceVersion above the one before, and a watch
// resumed from the attach's resourceVersion sees the detach.
func TestVMDiskWatchFollowsUsedBy(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	disks := c.apps.AppsV1alpha1().VMDisks(ns)
	created, err := disks.Create(ctx, newDisk("data", appsv1alpha1.VMDiskSpec{}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := disks.Watch(ctx, metav1.ListOptions{ResourceVersion: created.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	last := created.ResourceVersion
	// usedBy comes to be want; CDI's own writes of the DataVolume may
	// come first.
	usedBy := func(w watch.Interface, want string) string {
		t.Helper()
		timeout := time.After(eventuallyTimeout)
		for {
			select {
			case event, ok := <-w.ResultChan():
				if !ok {
					t.Fatal("the watch ended")
				}
				disk, isDisk := event.Object.(*appsv1alpha1.VMDisk)
				if !isDisk || event.Type != watch.Modified {
					t.Fatalf("want MODIFIED of the VMDisk, got %s %+v", event.Type, event.Object)
				}
				if !resourceVersionBefore(t, last, disk.ResourceVersion) {
					t.Fatalf("resourceVersion %s after %s", disk.ResourceVersion, last)
				}
				last = disk.ResourceVersion
				if strings.Join(disk.Status.UsedBy, ",") == want {
					return disk.ResourceVersion
				}
			case <-timeout:
				t.Fatalf("no event with usedBy %q", want)
			}
		}
	}

	instances := c.apps.AppsV1alpha1().VMInstances(ns)
	spec := appsv1alpha1.VMInstanceSpec{Running: new(false), Disks: []appsv1alpha1.VMInstanceDisk{{Name: "system", Size: quantity("10Gi")}, {Name: "data"}}}
	if _, err := instances.Create(ctx, newInstance("web", spec), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	attached := usedBy(w, "web")
	resumed, err := disks.Watch(ctx, metav1.ListOptions{ResourceVersion: attached})
	if err != nil {
		t.Fatal(err)
	}
	defer resumed.Stop()
	if _, err := instances.Patch(ctx, "web", types.JSONPatchType, []byte(`[{"op":"remove","path":"/spec/disks/1"}]`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	usedBy(w, "")
	last = attached
	usedBy(resumed, "")
}
