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

package vminstance

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clienttesting "k8s.io/client-go/testing"
	kubevirtv1 "kubevirt.io/api/core/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
	"github.com/cozystack/vm-apiserver/pkg/projection"
)

func TestCreateWritesTheVMThenItsServiceAndSecretsOwnedByIt(t *testing.T) {
	c := newCluster(t)
	inst := c.create(t, instance("web"))
	vm := c.vm(t, "web")
	if vm.Labels[backendnames.KindLabel] != backendnames.VMInstanceKind || vm.Annotations[backendnames.WriteInProgressAnnotation] != "" {
		t.Fatalf("want a labelled VM without a write marker, got %+v", vm.ObjectMeta)
	}
	for _, owned := range []metav1.Object{
		mustGet(c.kube.CoreV1().Services(tenant).Get(context.Background(), "web", metav1.GetOptions{})),
		mustGet(c.kube.CoreV1().Secrets(tenant).Get(context.Background(), "web-cloud-init", metav1.GetOptions{})),
		mustGet(c.kube.CoreV1().Secrets(tenant).Get(context.Background(), "web-ssh-keys", metav1.GetOptions{})),
	} {
		refs := owned.GetOwnerReferences()
		if len(refs) != 1 || refs[0].UID != vm.UID || owned.GetLabels()[backendnames.InstanceLabel] != "web" {
			t.Fatalf("%s: want the instance label and the VM as owner, got %+v", owned.GetName(), owned)
		}
	}
	if !inst.Spec.External || len(inst.Spec.ExternalPorts) != 1 || len(inst.Spec.SSHKeys) != 1 || inst.Spec.CloudInit == "" {
		t.Fatalf("the answer must show the owned objects, got %+v", inst.Spec)
	}
	if e := <-c.events.Events; !strings.Contains(e, "Created VirtualMachine web and LoadBalancer Service web") {
		t.Fatalf("got event %q", e)
	}
}

func mustGet[T metav1.Object](obj T, err error) metav1.Object {
	if err != nil {
		panic(err)
	}
	return obj
}

func TestCreateRecordsTheVersionsItLeftTheOwnedObjectsAt(t *testing.T) {
	c := newCluster(t)
	inst := c.create(t, instance("web"))
	vm := c.vm(t, "web")
	svc := mustGet(c.kube.CoreV1().Services(tenant).Get(context.Background(), "web", metav1.GetOptions{}))
	cloudInit := mustGet(c.kube.CoreV1().Secrets(tenant).Get(context.Background(), "web-cloud-init", metav1.GetOptions{}))
	keys := mustGet(c.kube.CoreV1().Secrets(tenant).Get(context.Background(), "web-ssh-keys", metav1.GetOptions{}))
	want := projection.OwnedVersions{
		"Service/web":           svc.GetResourceVersion(),
		"Secret/web-cloud-init": cloudInit.GetResourceVersion(),
		"Secret/web-ssh-keys":   keys.GetResourceVersion(),
	}
	if got := projection.OwnedVersionsOf(&vm.ObjectMeta); !reflect.DeepEqual(got, want) {
		t.Fatalf("recorded %v, want %v", got, want)
	}
	if inst.ResourceVersion != vm.ResourceVersion {
		t.Fatalf("the VM's last write is the newest version: VMInstance at %s, VM at %s", inst.ResourceVersion, vm.ResourceVersion)
	}
}

// whileSecretsAreWritten runs change on the VM web, in the cluster's
// store, when the first owned Secret is created: between the VM's two writes.
func (c *cluster) whileSecretsAreWritten(t *testing.T, change func(vm *kubevirtv1.VirtualMachine)) {
	var once sync.Once
	c.kube.PrependReactor("create", "secrets", func(clienttesting.Action) (bool, runtime.Object, error) {
		once.Do(func() {
			obj, err := c.kubevirt.Tracker().Get(VirtualMachines, tenant, "web")
			if err != nil {
				t.Error(err)
				return
			}
			vm := obj.(*kubevirtv1.VirtualMachine).DeepCopy()
			change(vm)
			vm.ResourceVersion = strconv.FormatInt(c.revision.Add(1), 10)
			if err := c.kubevirt.Tracker().Update(VirtualMachines, vm, tenant); err != nil {
				t.Error(err)
			}
		})
		return false, nil, nil
	})
}

// TestCreateFinishesWithoutARaceWithVirtController checks that the VM
// writes virt-controller makes to a new VM (its finalizer, its status)
// while the owned objects are written neither fail the create nor cost it
// a read and another try: the marker comes off in a patch conditioned on
// the marker, not on the resourceVersion.
func TestCreateFinishesWithoutARaceWithVirtController(t *testing.T) {
	c := newCluster(t)
	c.whileSecretsAreWritten(t, func(vm *kubevirtv1.VirtualMachine) {
		vm.Finalizers = append(vm.Finalizers, kubevirtv1.VirtualMachineControllerFinalizer)
		vm.Status.PrintableStatus = kubevirtv1.VirtualMachineStatusStopped
	})
	c.kubevirt.ClearActions()
	inst := c.create(t, instance("web"))
	var verbs []string
	for _, a := range c.kubevirt.Actions() {
		if a.GetResource() == VirtualMachines {
			verbs = append(verbs, a.GetVerb())
		}
	}
	if !reflect.DeepEqual(verbs, []string{"create", "patch"}) {
		t.Fatalf("want the VM created and patched once, got %v", verbs)
	}
	vm := c.vm(t, "web")
	if _, marked := vm.Annotations[backendnames.WriteInProgressAnnotation]; marked || len(projection.OwnedVersionsOf(&vm.ObjectMeta)) != 3 {
		t.Fatalf("want the marker off and three versions recorded, got %v", vm.Annotations)
	}
	if len(vm.Finalizers) != 1 || vm.Status.PrintableStatus != kubevirtv1.VirtualMachineStatusStopped {
		t.Fatalf("virt-controller's writes must stay, got %v %+v", vm.Finalizers, vm.Status)
	}
	if inst.ResourceVersion != vm.ResourceVersion {
		t.Fatalf("the VMInstance is at %s, its VM at %s", inst.ResourceVersion, vm.ResourceVersion)
	}
}

// TestCreateIsAConflictWhenItsVMWasTakenOverMeanwhile checks that a create
// whose VM another writer replaced or re-marked while the owned objects
// were written (its marker had gone stale) is a 409 and leaves the other
// writer's VM as it is.
func TestCreateIsAConflictWhenItsVMWasTakenOverMeanwhile(t *testing.T) {
	for name, takeOver := range map[string]func(vm *kubevirtv1.VirtualMachine){
		"marked by another write": func(vm *kubevirtv1.VirtualMachine) {
			vm.Annotations[backendnames.WriteInProgressAnnotation] = backendnames.NewWriteMarker()
		},
		"replaced": func(vm *kubevirtv1.VirtualMachine) { vm.UID = "another" },
	} {
		t.Run(name, func(t *testing.T) {
			c := newCluster(t)
			var theirs *kubevirtv1.VirtualMachine
			c.whileSecretsAreWritten(t, func(vm *kubevirtv1.VirtualMachine) {
				takeOver(vm)
				theirs = vm
			})
			_, err := c.store.Create(asAlice(), instance("web"), nil, &metav1.CreateOptions{})
			if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "replaced while it was written") {
				t.Fatalf("want a 409, got %v", err)
			}
			if vm := c.vm(t, "web"); !reflect.DeepEqual(vm, theirs) {
				t.Fatalf("the other writer's VM must stay as it is:\n got %+v\nwant %+v", vm, theirs)
			}
		})
	}
}

func TestCreateWithoutOwnedObjectsWritesTheVMOnceWithoutAMarker(t *testing.T) {
	c := newCluster(t)
	c.create(t, instance("web", withoutOwnedObjects))
	w := c.writes()
	if len(w) != 1 || w[0].GetVerb() != "create" || w[0].GetResource() != VirtualMachines {
		t.Fatalf("want the VM created alone, got %v", w)
	}
	if marker := w[0].(clienttesting.CreateActionImpl).Object.(*kubevirtv1.VirtualMachine).Annotations[backendnames.WriteInProgressAnnotation]; marker != "" {
		t.Fatalf("a single write needs no marker, got %q", marker)
	}
}

func TestCreateIsAConflictWhenAnOwnedObjectsNameIsTakenByAForeignObject(t *testing.T) {
	for name, foreign := range map[string]runtime.Object{
		"Service": &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "web"}},
		"Secret":  &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "web-ssh-keys"}},
	} {
		t.Run(name, func(t *testing.T) {
			c := newCluster(t, foreign)
			_, err := c.store.Create(asAlice(), instance("web"), nil, &metav1.CreateOptions{})
			if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), name+" tenant/") || !strings.Contains(err.Error(), "not managed by vm-apiserver") {
				t.Fatalf("want a 409 naming the %s, got %v", name, err)
			}
			if w := c.writes(); len(w) != 0 {
				t.Fatalf("nothing may be written, got %v", w)
			}
		})
	}
}

func TestCreateIsAConflictWhenAnInlineDisksDataVolumeNameIsTaken(t *testing.T) {
	dataVolume := func(labels map[string]string) *cdiv1.DataVolume {
		return &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "web-root", Labels: labels}}
	}
	// VMInstance "web" whose inline disk "root-x" is the DataVolume
	// "web-root-x"; created below as "web-root" with disk "x".
	otherInstance := &kubevirtv1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "web", Labels: map[string]string{backendnames.KindLabel: backendnames.VMInstanceKind}},
		Spec:       kubevirtv1.VirtualMachineSpec{DataVolumeTemplates: []kubevirtv1.DataVolumeTemplateSpec{{ObjectMeta: metav1.ObjectMeta{Name: "web-root-x"}}}},
	}
	renamed := func(inst *apps.VMInstance) { inst.Name, inst.Spec.Disks[0].Name = "web-root", "x" }
	for _, tc := range []struct {
		name  string
		taken runtime.Object
		inst  *apps.VMInstance
		says  string
	}{
		{"by a VMDisk", dataVolume(map[string]string{backendnames.KindLabel: backendnames.VMDiskKind}), instance("web"), "already exists as a VMDisk"},
		{"by an unmanaged DataVolume", dataVolume(nil), instance("web"), "already exists as a DataVolume vm-apiserver does not manage"},
		{"by another VMInstance's disk", dataVolume(labelled("other")), instance("web"), "already exists as a disk of VMInstance other"},
		{"by another VMInstance's template", otherInstance, instance("web", renamed), "already an inline disk of VMInstance web"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, tc.taken)
			_, err := c.store.Create(asAlice(), tc.inst, nil, &metav1.CreateOptions{})
			if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("want a 409 saying %q, got %v", tc.says, err)
			}
			if w := c.writes(); len(w) != 0 {
				t.Fatalf("nothing may be written, got %v", w)
			}
		})
	}
}

func TestCreateTakesOverTheOwnDataVolumeAnOrphaningDeleteLeft(t *testing.T) {
	own := &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "web-root", Labels: labelled("web")}}
	c := newCluster(t, own)
	c.create(t, instance("web"))
}

// TestCreateLooksUpWhatItRefersToAtOnce checks that a VMInstance's
// references are read at once, not one after another: the cluster answers
// the preference only once the OS image has been asked for too.
func TestCreateLooksUpWhatItRefersToAtOnce(t *testing.T) {
	c := newCluster(t)
	imageAsked := make(chan struct{})
	var once sync.Once
	c.cdi.PrependReactor("get", "datasources", func(clienttesting.Action) (bool, runtime.Object, error) {
		once.Do(func() { close(imageAsked) })
		return false, nil, nil
	})
	c.kubevirt.PrependReactor("get", "virtualmachineclusterpreferences", func(clienttesting.Action) (bool, runtime.Object, error) {
		select {
		case <-imageAsked:
			return false, nil, nil
		case <-time.After(5 * time.Second):
			return true, nil, errors.New("the OS image was not asked for while the preference was")
		}
	})
	c.create(t, instance("web"))
}

func TestCreateOfAVMInstanceReferringToWhatDoesNotExistIsInvalid(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*apps.VMInstance)
		field string
	}{
		{"profile", func(i *apps.VMInstance) { i.Spec.InstanceProfile = "plan9" }, "spec.instanceProfile"},
		{"preference", func(i *apps.VMInstance) { i.Spec.InstanceProfile = "fedora" }, "spec.instanceProfile"},
		{"instance type", func(i *apps.VMInstance) { i.Spec.InstanceType = "u9.huge" }, "spec.instanceType"},
		{"attached disk", func(i *apps.VMInstance) {
			i.Spec.Disks = append(i.Spec.Disks, apps.VMInstanceDisk{Name: "data"})
		}, "spec.disks[1].name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t)
			_, err := c.store.Create(asAlice(), instance("web", tc.edit), nil, &metav1.CreateOptions{})
			var status apierrors.APIStatus
			if !apierrors.IsInvalid(err) || !errors.As(err, &status) || status.Status().Details.Causes[0].Field != tc.field {
				t.Fatalf("want a 422 about %s, got %v", tc.field, err)
			}
			if w := c.writes(); len(w) != 0 {
				t.Fatalf("nothing may be written, got %v", w)
			}
		})
	}
}

func TestCreateRollsBackEverythingWhenTheClusterRefusesASecret(t *testing.T) {
	quota := apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "web-ssh-keys", errors.New("exceeded quota: secrets"))
	invalid := apierrors.NewInvalid(schema.GroupKind{Kind: "Secret"}, "web-ssh-keys", nil)
	for _, tc := range []struct {
		name string
		err  error
		code int32
	}{{"quota", quota, 403}, {"invalid", invalid, 422}} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t)
			before := c.contents(t)
			refuse(&c.kube.Fake, "create", "secrets", "web-ssh-keys", tc.err)
			_, err := c.store.Create(asAlice(), instance("web"), nil, &metav1.CreateOptions{})
			var status apierrors.APIStatus
			if !errors.As(err, &status) || status.Status().Code != tc.code || !strings.Contains(err.Error(), "Secret web-ssh-keys") {
				t.Fatalf("want a %d naming the Secret, got %v", tc.code, err)
			}
			if status.Status().Details == nil || status.Status().Details.Group != apps.GroupName {
				t.Fatalf("the error must speak of the VMInstance, got %+v", status.Status().Details)
			}
			if !c.wrote("create", "virtualmachines") || !c.wrote("delete", "virtualmachines") {
				t.Fatal("want the VM written, then removed")
			}
			if after := c.contents(t); !reflect.DeepEqual(after, before) {
				t.Fatalf("the cluster must be as before the create:\nbefore %v\nafter  %v", keys(before), keys(after))
			}
		})
	}
}

// TestCreateRollsBackEverythingWhenTheMarkerCannotBeCleared checks that a
// create whose last step, taking the write marker off the VM, is refused
// leaves nothing behind, as when an owned object is refused.
func TestCreateRollsBackEverythingWhenTheMarkerCannotBeCleared(t *testing.T) {
	c := newCluster(t)
	before := c.contents(t)
	refuse(&c.kubevirt.Fake, "patch", "virtualmachines", "web",
		apierrors.NewForbidden(schema.GroupResource{Group: "kubevirt.io", Resource: "virtualmachines"}, "web", errors.New("no patch for you")))
	_, err := c.store.Create(asAlice(), instance("web"), nil, &metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "VirtualMachine web") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("want a 403 naming the VM that says nothing was changed, got %v", err)
	}
	if after := c.contents(t); !reflect.DeepEqual(after, before) {
		t.Fatalf("the cluster must be as before the create:\nbefore %v\nafter  %v", keys(before), keys(after))
	}
}

func keys(m map[string]runtime.Object) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestDryRunCreateWritesNothingAndShowsTheOwnedObjectsItWouldMake(t *testing.T) {
	c := newCluster(t)
	before := c.contents(t)
	obj, err := c.store.Create(asAlice(), instance("web"), nil, &metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatal(err)
	}
	if inst := obj.(*apps.VMInstance); !inst.Spec.External || len(inst.Spec.SSHKeys) != 1 || inst.Spec.CloudInit == "" {
		t.Fatalf("the answer must show the Service and Secrets the create would make, got %+v", inst.Spec)
	}
	assertAllDryRun(t, c)
	if after := c.contents(t); !reflect.DeepEqual(after, before) {
		t.Fatalf("a dry run stores nothing, got %v", keys(after))
	}
	if len(c.events.Events) != 0 {
		t.Fatal("a dry run records no event")
	}
}

func assertAllDryRun(t *testing.T, c *cluster) {
	t.Helper()
	for _, a := range c.writes() {
		var opts []string
		switch a := a.(type) {
		case clienttesting.CreateActionImpl:
			opts = a.CreateOptions.DryRun
		case clienttesting.UpdateActionImpl:
			opts = a.UpdateOptions.DryRun
		case clienttesting.DeleteActionImpl:
			opts = a.DeleteOptions.DryRun
		}
		if len(opts) == 0 {
			t.Errorf("a dry run wrote %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}
}
