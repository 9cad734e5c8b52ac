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
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
	"github.com/cozystack/vm-apiserver/pkg/projection"
)

func (c *cluster) update(inst *apps.VMInstance, opts *metav1.UpdateOptions) (*apps.VMInstance, error) {
	obj, _, err := c.store.Update(asAlice(), inst.Name, rest.DefaultUpdatedObjectInfo(inst), nil, nil, false, opts)
	if err != nil {
		return nil, err
	}
	return obj.(*apps.VMInstance), nil
}

// changed is a copy of inst with edits.
func changed(inst *apps.VMInstance, edits ...func(*apps.VMInstance)) *apps.VMInstance {
	out := inst.DeepCopy()
	for _, edit := range edits {
		edit(out)
	}
	return out
}

func moreKeys(inst *apps.VMInstance) { inst.Spec.SSHKeys = append(inst.Spec.SSHKeys, sshKey+"2") }

func (c *cluster) ownedVersions(t *testing.T) projection.OwnedVersions {
	t.Helper()
	vm := c.vm(t, "web")
	return projection.OwnedVersionsOf(&vm.ObjectMeta)
}

func TestUpdateWithStaleResourceVersionIsAConflict(t *testing.T) {
	c := newCluster(t)
	first := c.create(t, instance("web"))
	if _, err := c.update(changed(first, moreKeys), &metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := c.update(changed(first, withoutOwnedObjects), &metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) {
		t.Fatalf("an update based on an older read must be a 409, got %v", err)
	}
}

func TestUpdateWhileAnotherWriteIsInProgressIsAConflict(t *testing.T) {
	c := newCluster(t)
	inst := c.create(t, instance("web"))
	mark := func(marker string) {
		vm := c.vm(t, "web")
		vm.Annotations[backendnames.WriteInProgressAnnotation] = marker
		if _, err := c.kubevirt.KubevirtV1().VirtualMachines(tenant).Update(context.Background(), vm, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	unconditional := func(i *apps.VMInstance) { i.ResourceVersion = "" }
	mark(backendnames.NewWriteMarker())
	_, err := c.update(changed(inst, moreKeys, unconditional), &metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "another write of this VMInstance is under way") {
		t.Fatalf("want a 409 for the write under way, got %v", err)
	}
	// A writer that died long ago no longer locks the VMInstance.
	mark(time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano) + " dead")
	updated, err := c.update(changed(inst, moreKeys, unconditional), &metav1.UpdateOptions{})
	if err != nil || len(updated.Spec.SSHKeys) != 2 {
		t.Fatalf("got %+v: %v", updated, err)
	}
	if marker := c.vm(t, "web").Annotations[backendnames.WriteInProgressAnnotation]; marker != "" {
		t.Fatalf("the write must clear the marker, got %q", marker)
	}
}

func TestUpdateRecordsTheNewVersionsOfTheOwnedObjectsItWrote(t *testing.T) {
	c := newCluster(t)
	inst := c.create(t, instance("web"))
	before := c.ownedVersions(t)
	if _, err := c.update(changed(inst, moreKeys), &metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	keys := mustGet(c.kube.CoreV1().Secrets(tenant).Get(context.Background(), "web-ssh-keys", metav1.GetOptions{}))
	want := projection.OwnedVersions{
		"Service/web": before["Service/web"], "Secret/web-cloud-init": before["Secret/web-cloud-init"],
		"Secret/web-ssh-keys": keys.GetResourceVersion(),
	}
	if got := c.ownedVersions(t); !reflect.DeepEqual(got, want) || want["Secret/web-ssh-keys"] == before["Secret/web-ssh-keys"] {
		t.Fatalf("recorded %v, want %v (before %v)", got, want, before)
	}
}

func TestUpdateThatRemovesTheServiceDeletesItAndRecordsItAbsent(t *testing.T) {
	c := newCluster(t)
	inst := c.create(t, instance("web"))
	updated, err := c.update(changed(inst, func(i *apps.VMInstance) { i.Spec.External = false }), &metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.kube.CoreV1().Services(tenant).Get(context.Background(), "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("want the Service deleted, got %v", err)
	}
	if v, ok := c.ownedVersions(t)["Service/web"]; !ok || v != "" {
		t.Fatalf("want the Service recorded absent, got %v", c.ownedVersions(t))
	}
	if updated.Spec.External || len(updated.Spec.ExternalPorts) != 1 {
		t.Fatalf("the ports stay without the Service, got %+v", updated.Spec)
	}
}

func TestUpdateRollsBackTheVMAndEveryOwnedObjectWhenASecretWriteIsRefused(t *testing.T) {
	quota := apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "web-ssh-keys", errors.New("exceeded quota: secrets"))
	for name, edit := range map[string]func(*apps.VMInstance){
		"the Service changed": func(i *apps.VMInstance) {
			i.Spec.ExternalPorts = append(i.Spec.ExternalPorts, apps.ExternalPort{Port: 80, Protocol: "TCP", TargetPort: 8080})
		},
		"the Service deleted": func(i *apps.VMInstance) { i.Spec.External = false },
	} {
		t.Run(name, func(t *testing.T) {
			c := newCluster(t)
			inst := c.create(t, instance("web"))
			before := c.contents(t)
			refuse(&c.kube.Fake, "update", "secrets", "web-ssh-keys", quota)
			_, err := c.update(changed(inst, moreKeys, edit, func(i *apps.VMInstance) {
				i.Spec.CloudInit = "#cloud-config\npackages: [apache2]\n"
				i.Spec.Running = new(bool)
			}), &metav1.UpdateOptions{})
			if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "exceeded quota") || !strings.Contains(err.Error(), "nothing was changed") {
				t.Fatalf("want a 403 that says nothing was changed, got %v", err)
			}
			if after := c.contents(t); !reflect.DeepEqual(after, before) {
				for k := range before {
					if !reflect.DeepEqual(after[k], before[k]) {
						t.Errorf("%s differs:\nbefore %+v\nafter  %+v", k, before[k], after[k])
					}
				}
				t.Fatalf("the VM and its owned objects must be as before the update")
			}
		})
	}
}

// TestUpdateRollsBackWhenTheMarkerCannotBeCleared checks that an update
// whose last step, taking the write marker off the VM, is refused puts
// the VM and its owned objects back as they were.
func TestUpdateRollsBackWhenTheMarkerCannotBeCleared(t *testing.T) {
	c := newCluster(t)
	inst := c.create(t, instance("web"))
	before := c.contents(t)
	refuse(&c.kubevirt.Fake, "patch", "virtualmachines", "web",
		apierrors.NewForbidden(schema.GroupResource{Group: "kubevirt.io", Resource: "virtualmachines"}, "web", errors.New("no patch for you")))
	_, err := c.update(changed(inst, moreKeys), &metav1.UpdateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("want a 403 that says nothing was changed, got %v", err)
	}
	if after := c.contents(t); !reflect.DeepEqual(after, before) {
		t.Fatalf("the VM and its owned objects must be as before the update")
	}
}

func TestUpdateOfAVMWrittenMeanwhileIsAConflictForTheVMInstance(t *testing.T) {
	c := newCluster(t)
	inst := c.create(t, instance("web"))
	refuse(&c.kubevirt.Fake, "update", "virtualmachines", "web",
		apierrors.NewConflict(VirtualMachines.GroupResource(), "web", errors.New(registryConflict)))
	_, err := c.update(changed(inst, moreKeys), &metav1.UpdateOptions{})
	var status apierrors.APIStatus
	if !apierrors.IsConflict(err) || !errors.As(err, &status) || status.Status().Details.Group != apps.GroupName {
		t.Fatalf("want a 409 about the VMInstance, got %v", err)
	}
}

func TestUpdateTakesOverAnOwnedObjectThatAnOrphaningDeleteLeft(t *testing.T) {
	orphan := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "web-ssh-keys", Labels: labelled("web")}}
	c := newCluster(t, orphan)
	c.create(t, instance("web"))
	keys := mustGet(c.kube.CoreV1().Secrets(tenant).Get(context.Background(), "web-ssh-keys", metav1.GetOptions{}))
	if refs := keys.GetOwnerReferences(); len(refs) != 1 || refs[0].UID != c.vm(t, "web").UID {
		t.Fatalf("want the Secret owned by the new VM, got %+v", refs)
	}
}

func TestDryRunUpdateWritesNothing(t *testing.T) {
	c := newCluster(t)
	inst := c.create(t, instance("web"))
	before := c.contents(t)
	c.kube.ClearActions()
	c.kubevirt.ClearActions()
	updated, err := c.update(changed(inst, moreKeys, func(i *apps.VMInstance) { i.Spec.External = false }), &metav1.UpdateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatal(err)
	}
	if updated.Spec.External || len(updated.Spec.SSHKeys) != 2 {
		t.Fatalf("the answer must show what the update would store, got %+v", updated.Spec)
	}
	assertAllDryRun(t, c)
	if after := c.contents(t); !reflect.DeepEqual(after, before) {
		t.Fatal("a dry run stores nothing")
	}
}

func TestUpdateOfAMissingVMInstanceCreatesItOnlyWhenForced(t *testing.T) {
	c := newCluster(t)
	info := rest.DefaultUpdatedObjectInfo(instance("web"))
	if _, _, err := c.store.Update(asAlice(), "web", info, nil, nil, false, &metav1.UpdateOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a PUT does not create: want 404, got %v", err)
	}
	obj, created, err := c.store.Update(asAlice(), "web", info, nil, nil, true, &metav1.UpdateOptions{})
	if err != nil || !created || !obj.(*apps.VMInstance).Spec.External {
		t.Fatalf("server-side apply creates: got %v created=%v: %v", obj, created, err)
	}
}
