package e2e

import (
	"context"
	"sort"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

	if _, err := c.apps.AppsV1alpha1().VMDisks(ns).Create(ctx, newDisk("imported", appsv1alpha1.VMDiskSpec{}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	setDataVolumeStatus(t, c, ns, "imported", cdiv1.Succeeded, "100.0%")
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
