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
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	appsv1alpha1 "github.com/cozystack/vm-apiserver/pkg/apis/apps/v1alpha1"
)

// TestFieldSelectors selects by projected fields in lists and watches, and
// refuses fields that are not selectable.
func TestFieldSelectors(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	instances := c.apps.AppsV1alpha1().VMInstances(ns)
	stopped := false
	for _, inst := range []*appsv1alpha1.VMInstance{
		newInstance("runs", appsv1alpha1.VMInstanceSpec{}),
		newInstance("stopped", appsv1alpha1.VMInstanceSpec{Running: &stopped, InstanceType: "u1.small"}),
		newInstance("later", appsv1alpha1.VMInstanceSpec{}),
	} {
		if _, err := instances.Create(ctx, inst, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	names := func(selector string) string {
		t.Helper()
		list, err := instances.List(ctx, metav1.ListOptions{FieldSelector: selector})
		if err != nil {
			t.Fatalf("%s: %v", selector, err)
		}
		var out []string
		for _, i := range list.Items {
			out = append(out, i.Name)
		}
		return strings.Join(out, ",")
	}
	for selector, want := range map[string]string{
		"spec.running=false":                               "stopped",
		"spec.running=true":                                "later,runs",
		"spec.instanceType=u1.small":                       "stopped",
		"spec.instanceType!=u1.small,metadata.name!=later": "runs",
		"spec.instanceProfile=ubuntu":                      "later,runs,stopped",
	} {
		if got := names(selector); got != want {
			t.Errorf("%s: got %q, want %q", selector, got, want)
		}
	}
	if _, err := instances.List(ctx, metav1.ListOptions{FieldSelector: "spec.cloudInit=x"}); !apierrors.IsBadRequest(err) {
		t.Errorf("a field that is not selectable should be 400, got %v", err)
	}

	lines := startLines(t, env.KubectlCommand(ctx, "get", "vminstance", "-n", ns, "-w", "--field-selector", "spec.running=false", "--output-watch-events"))
	lines.waitFor(t, "ADDED ", " stopped ")
	kubectl(t, "patch", "vminstance", "later", "-n", ns, "--type", "merge", "-p", `{"spec":{"running":false}}`)
	lines.waitFor(t, "ADDED ", " later ")
	kubectl(t, "patch", "vminstance", "stopped", "-n", ns, "--type", "merge", "-p", `{"spec":{"running":true}}`)
	lines.waitFor(t, "DELETED ", " stopped ")

	// cdi-controller reports "imported" Succeeded (its claim holds it
	// already), "waiting" waiting for its volume.
	populatedClaim(t, c, ns, "imported")
	for _, name := range []string{"imported", "waiting"} {
		if _, err := c.apps.AppsV1alpha1().VMDisks(ns).Create(ctx, newDisk(name, appsv1alpha1.VMDiskSpec{}), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "cdi-controller to report imported Succeeded", func() (bool, string) {
		dv := dataVolumeWithPhase(t, c, ns, "imported")
		return dv.Status.Phase == cdiv1.Succeeded, string(dv.Status.Phase)
	})
	dataVolumeWithPhase(t, c, ns, "waiting")
	out := kubectl(t, "get", "vmdisk", "-n", ns, "--field-selector", "status.phase=Succeeded", "-o", "name")
	if strings.TrimSpace(out) != "vmdisk.apps.cozystack.io/imported" {
		t.Errorf("vmdisks with status.phase=Succeeded: %s", out)
	}
}

// TestDiscovery checks short names, the category listing both kinds and
// the verbs kubectl api-resources shows.
func TestDiscovery(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	kubectlStdin(t, tenantDisk, "apply", "-n", ns, "-f", "-")
	kubectlStdin(t, tenantInstance, "apply", "-n", ns, "-f", "-")
	out := kubectl(t, "get", "vmapps", "-n", ns, "-o", "name")
	got := strings.Fields(out)
	sort.Strings(got)
	if strings.Join(got, " ") != "vmdisk.apps.cozystack.io/disk vminstance.apps.cozystack.io/vm" {
		t.Errorf("kubectl get vmapps: %s", out)
	}
	for _, short := range []string{"vmin", "vmd"} {
		if _, err := env.Kubectl(context.Background(), "", "get", short, "-n", ns); err != nil {
			t.Errorf("short name %s: %v", short, err)
		}
	}
	out = kubectl(t, "api-resources", "--api-group=apps.cozystack.io", "-o", "wide")
	for _, want := range []string{
		"vmdisks       vmd          apps.cozystack.io/v1alpha1   true         VMDisk       create,delete,deletecollection,get,list,patch,update,watch   all,vmapps",
		"vminstances   vmin         apps.cozystack.io/v1alpha1   true         VMInstance   create,delete,deletecollection,get,list,patch,update,watch   all,vmapps",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl api-resources lacks %q:\n%s", want, out)
		}
	}
}

// TestWatchFromTooOldResourceVersion watches from a resourceVersion long
// compacted away: the answer is kube-apiserver's own 410 Gone, in public
// form, which is what makes client-go relist.
func TestWatchFromTooOldResourceVersion(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), eventuallyTimeout)
	defer cancel()
	w, err := c.apps.AppsV1alpha1().VMInstances(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: "1"})
	if err != nil {
		if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
			t.Fatalf("want 410, got %v", err)
		}
		return
	}
	defer w.Stop()
	event, ok := <-w.ResultChan()
	if !ok {
		t.Fatal("the watch ended without an event")
	}
	status, isStatus := event.Object.(*metav1.Status)
	if event.Type != "ERROR" || !isStatus || status.Code != 410 {
		t.Fatalf("want a 410 error event, got %s %+v", event.Type, event.Object)
	}
}

// TestExplainVMInstance checks that kubectl explain documents VMInstance
// fields from the published OpenAPI.
func TestExplainVMInstance(t *testing.T) {
	out := kubectl(t, "explain", "vminstance.spec.externalPorts")
	for _, want := range []string{"KIND:       VMInstance", "port\t<integer> -required-", "protocol\t<string>", "Defaults to TCP", "targetPort\t<integer>"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl explain vminstance.spec.externalPorts lacks %q:\n%s", want, out)
		}
	}
}

// TestWatchResourceVersions checks the three ways to start a VMInstance
// watch, as kube-apiserver has them: "0" starts with ADDED for what exists,
// a list's resourceVersion replays only later changes, and an object's
// older resourceVersion replays the changes since it.
func TestWatchResourceVersions(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	instances := c.apps.AppsV1alpha1().VMInstances(ns)
	for _, name := range []string{"a", "b"} {
		if _, err := instances.Create(ctx, newInstance(name, appsv1alpha1.VMInstanceSpec{}), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	listed, err := instances.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := instances.Patch(ctx, "a", types.MergePatchType, []byte(`{"metadata":{"labels":{"changed":"yes"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	next := func(w watch.Interface) (string, string) {
		t.Helper()
		select {
		case event, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("the watch ended")
			}
			inst, isInstance := event.Object.(*appsv1alpha1.VMInstance)
			if !isInstance {
				t.Fatalf("unexpected %s event: %+v", event.Type, event.Object)
			}
			return fmt.Sprintf("%s %s %s", event.Type, inst.Name, inst.Labels["changed"]), inst.ResourceVersion
		case <-time.After(eventuallyTimeout):
			t.Fatal("no watch event")
		}
		return "", ""
	}
	open := func(rv string) watch.Interface {
		t.Helper()
		w, err := instances.Watch(ctx, metav1.ListOptions{ResourceVersion: rv})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
		return w
	}

	fromAny := open("0")
	first, _ := next(fromAny)
	second, _ := next(fromAny)
	initial := []string{first, second}
	slices.Sort(initial)
	if want := []string{"ADDED a yes", "ADDED b "}; !slices.Equal(initial, want) {
		t.Fatalf("watch from 0: %v, want %v", initial, want)
	}
	// virt-controller writes the VMs' status too: a watch from a
	// resourceVersion shows every change after it, and none before.
	nextAfter := func(w watch.Interface, rv, want string) {
		t.Helper()
		for {
			got, gotRV := next(w)
			if !atLeastVersion(gotRV, rv) || gotRV == rv {
				t.Fatalf("watch from %s: event %q at %s, which is not later", rv, got, gotRV)
			}
			if got == want {
				return
			}
			if !strings.HasPrefix(got, "MODIFIED ") {
				t.Fatalf("watch from %s: event %q before %q", rv, got, want)
			}
		}
	}
	nextAfter(open(listed.ResourceVersion), listed.ResourceVersion, "MODIFIED a yes")
	changed, err := instances.Get(ctx, "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fromNow := open(changed.ResourceVersion)
	if _, err := instances.Create(ctx, newInstance("c", appsv1alpha1.VMInstanceSpec{}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	nextAfter(fromNow, changed.ResourceVersion, "ADDED c ")
}

// TestVMInstanceWatchIntroducesBeforeChanging creates VMInstances whose
// Service and Secrets are written after their VM, under a running watch:
// whatever order the VM's and the joined objects' events arrive in, each
// VMInstance's first event is ADDED, and its events end with the complete
// object.
func TestVMInstanceWatchIntroducesBeforeChanging(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	instances := c.apps.AppsV1alpha1().VMInstances(ns)
	listed, err := instances.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := instances.Watch(ctx, metav1.ListOptions{ResourceVersion: listed.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	spec := appsv1alpha1.VMInstanceSpec{External: true, ExternalPorts: []appsv1alpha1.ExternalPort{{Port: 22}}, SSHKeys: []string{sshKey(t)}, CloudInit: "#cloud-config\n"}
	want := map[string]*appsv1alpha1.VMInstance{}
	for i := range 5 {
		created, err := instances.Create(ctx, newInstance(fmt.Sprintf("vm-%d", i), spec), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want[created.Name] = created
	}
	first := map[string]watch.EventType{}
	latest := map[string]*appsv1alpha1.VMInstance{}
	eventually(t, "every VMInstance to arrive complete on the watch", func() (bool, string) {
		select {
		case event := <-w.ResultChan():
			inst, ok := event.Object.(*appsv1alpha1.VMInstance)
			if !ok {
				t.Fatalf("unexpected %s event: %+v", event.Type, event.Object)
			}
			if _, seen := first[inst.Name]; !seen {
				first[inst.Name] = event.Type
			}
			latest[inst.Name] = inst
		case <-time.After(eventuallyTimeout):
		}
		for name, created := range want {
			got := latest[name]
			// virt-controller writes the VM's status meanwhile, which moves
			// the resourceVersion past the create's.
			if got == nil || !atLeastVersion(got.ResourceVersion, created.ResourceVersion) || !equality.Semantic.DeepEqual(got.Spec, created.Spec) {
				return false, fmt.Sprintf("%s is not complete on the watch yet", name)
			}
		}
		return true, ""
	})
	for name, event := range first {
		if event != watch.Added {
			t.Errorf("the first event of %s is %s", name, event)
		}
	}
}

// atLeastVersion says whether resourceVersion a is b or later
// (kube-apiserver's are etcd revisions).
func atLeastVersion(a, b string) bool {
	x, errA := strconv.ParseUint(a, 10, 64)
	y, errB := strconv.ParseUint(b, 10, 64)
	return errA == nil && errB == nil && x >= y
}
