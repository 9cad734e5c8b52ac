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

package vmdisk

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	fakediscovery "k8s.io/client-go/discovery/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	kubevirtv1 "kubevirt.io/api/core/v1"
	cdifake "kubevirt.io/client-go/containerizeddataimporter/fake"
	kubevirtfake "kubevirt.io/client-go/kubevirt/fake"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/apis/apps/install"
	"github.com/cozystack/vm-apiserver/pkg/backend"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
)

const tenant = "ns"

type disks struct {
	store    *Store
	kube     *kubefake.Clientset
	kubevirt *kubevirtfake.Clientset
	cdi      *cdifake.Clientset
	// allowed answers the user's access reviews.
	allowed     bool
	attachments attachments
}

func newDisks(t *testing.T, dvs []runtime.Object, vms ...runtime.Object) *disks {
	t.Helper()
	d := &disks{kube: kubefake.NewClientset(), kubevirt: kubevirtfake.NewSimpleClientset(vms...), cdi: cdifake.NewSimpleClientset(dvs...), allowed: true}
	d.kube.Discovery().(*fakediscovery.FakeDiscovery).Resources = []*metav1.APIResourceList{
		{GroupVersion: "cdi.kubevirt.io/v1beta1", APIResources: []metav1.APIResource{{Name: "datavolumes"}}},
	}
	d.kube.PrependReactor("create", "subjectaccessreviews", func(a clienttesting.Action) (bool, runtime.Object, error) {
		review := a.(clienttesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview).DeepCopy()
		review.Status.Allowed = d.allowed
		return true, review, nil
	})
	scheme := runtime.NewScheme()
	install.Install(scheme)
	clients := backend.Clients{Kube: d.kube, KubeVirt: d.kubevirt, CDI: d.cdi}
	d.store = NewREST(clients, &d.attachments, backend.NewAvailability(d.kube.Discovery()), scheme)
	return d
}

// attachments stand for the disk protection controller's informer; until
// synced, reads list the VMs.
type attachments struct {
	synced bool
	users  map[string][]string
}

func (a *attachments) HasSynced() bool { return a.synced }

func (a *attachments) Users(namespace, disk string) []string { return a.users[namespace+"/"+disk] }

func asAlice() context.Context {
	ctx := genericapirequest.WithNamespace(context.Background(), tenant)
	return genericapirequest.WithUser(ctx, &user.DefaultInfo{Name: "alice"})
}

// httpDisk downloads with a credential header and URL userinfo: both
// are kept in Secrets.
func httpDisk(name string) *apps.VMDisk {
	size := resource.MustParse("10Gi")
	return &apps.VMDisk{
		ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: name},
		Spec: apps.VMDiskSpec{Storage: &size, StorageClass: "replicated", Source: apps.VMDiskSource{HTTP: &apps.HTTPDiskSource{
			URL: "https://user:pw@example.com/disk.img", Headers: map[string]string{"Authorization": "Bearer x"},
		}}},
	}
}

func dataVolume(name string, finalizers ...string) *cdiv1.DataVolume {
	return &cdiv1.DataVolume{
		ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: name, ResourceVersion: "5", UID: "uid-dv",
			Labels: map[string]string{backendnames.KindLabel: backendnames.VMDiskKind}, Finalizers: finalizers},
		Spec: cdiv1.DataVolumeSpec{Source: &cdiv1.DataVolumeSource{Blank: &cdiv1.DataVolumeBlankImage{}}, Storage: &cdiv1.StorageSpec{
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			StorageClassName: &class,
		}},
	}
}

var class = "replicated"

// instanceAttaching is VMInstance name's VM attaching the VMDisks disks.
func instanceAttaching(name string, disks ...string) *kubevirtv1.VirtualMachine {
	vm := &kubevirtv1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: name, Labels: map[string]string{backendnames.KindLabel: backendnames.VMInstanceKind}},
		Spec:       kubevirtv1.VirtualMachineSpec{Template: &kubevirtv1.VirtualMachineInstanceTemplateSpec{}},
	}
	for _, disk := range disks {
		vm.Spec.Template.Spec.Volumes = append(vm.Spec.Template.Spec.Volumes,
			kubevirtv1.Volume{Name: disk, VolumeSource: kubevirtv1.VolumeSource{DataVolume: &kubevirtv1.DataVolumeSource{Name: disk}}})
	}
	return vm
}

func (d *disks) secret(name string) (*corev1.Secret, error) {
	return d.kube.CoreV1().Secrets(tenant).Get(context.Background(), name, metav1.GetOptions{})
}

func TestCreateKeepsCredentialsInSecretsOwnedByTheDataVolume(t *testing.T) {
	d := newDisks(t, nil)
	if _, err := d.store.Create(asAlice(), httpDisk("img"), nil, &metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"img-http-headers", "img-http-credentials"} {
		s, err := d.secret(name)
		if err != nil {
			t.Fatal(err)
		}
		if refs := s.OwnerReferences; len(refs) != 1 || refs[0].Kind != "DataVolume" || refs[0].Name != "img" {
			t.Fatalf("%s: want the DataVolume as owner, got %+v", name, refs)
		}
	}
	dv, err := d.cdi.CdiV1beta1().DataVolumes(tenant).Get(context.Background(), "img", metav1.GetOptions{})
	if err != nil || strings.Contains(strings.Join(dv.Spec.Source.HTTP.ExtraHeaders, ","), "Bearer") || strings.Contains(dv.Spec.Source.HTTP.URL, "pw") {
		t.Fatalf("the DataVolume must not hold the credentials: %+v, %v", dv.Spec.Source.HTTP, err)
	}
}

func TestCreateRemovesTheSecretsWhenTheDataVolumeIsRefused(t *testing.T) {
	d := newDisks(t, nil)
	d.cdi.PrependReactor("create", "datavolumes", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(DataVolumes.GroupResource(), "img", errors.New("exceeded quota"))
	})
	_, err := d.store.Create(asAlice(), httpDisk("img"), nil, &metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("want the 403, got %v", err)
	}
	for _, name := range []string{"img-http-headers", "img-http-credentials"} {
		if _, err := d.secret(name); !apierrors.IsNotFound(err) {
			t.Fatalf("%s must be removed, got %v", name, err)
		}
	}
}

func TestCreateIsAConflictWhenACredentialsSecretNameIsTaken(t *testing.T) {
	d := newDisks(t, nil)
	taken := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "img-http-credentials"}}
	if _, err := d.kube.CoreV1().Secrets(tenant).Create(context.Background(), taken, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := d.store.Create(asAlice(), httpDisk("img"), nil, &metav1.CreateOptions{})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "Secret ns/img-http-credentials already exists") {
		t.Fatalf("want a 409 naming the Secret, got %v", err)
	}
	if _, err := d.secret("img-http-headers"); !apierrors.IsNotFound(err) {
		t.Fatalf("the Secret written first must be removed, got %v", err)
	}
	if _, err := d.secret("img-http-credentials"); err != nil {
		t.Fatalf("the other object's Secret must stay: %v", err)
	}
	if len(d.cdi.Actions()) != 0 {
		t.Fatalf("no DataVolume may be written, got %v", d.cdi.Actions())
	}
}

func TestDryRunCreateWritesOnlyDryRuns(t *testing.T) {
	d := newDisks(t, nil)
	if _, err := d.store.Create(asAlice(), httpDisk("img"), nil, &metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatal(err)
	}
	for _, a := range append(d.kube.Actions(), d.cdi.Actions()...) {
		switch a := a.(type) {
		case clienttesting.CreateActionImpl:
			if a.GetResource().Resource != "subjectaccessreviews" && len(a.CreateOptions.DryRun) == 0 {
				t.Errorf("a dry run created %s", a.GetResource().Resource)
			}
		case clienttesting.UpdateActionImpl, clienttesting.DeleteActionImpl:
			t.Errorf("a dry run wrote %v", a)
		}
	}
}

func TestCreateIsAConflictWhenTheNameIsAVMInstancesInlineDisk(t *testing.T) {
	vm := instanceAttaching("web")
	vm.Spec.DataVolumeTemplates = []kubevirtv1.DataVolumeTemplateSpec{{ObjectMeta: metav1.ObjectMeta{Name: "web-root"}}}
	d := newDisks(t, nil, vm)
	disk := httpDisk("web-root")
	disk.Spec.Source.HTTP = &apps.HTTPDiskSource{URL: "https://example.com/disk.img"}
	_, err := d.store.Create(asAlice(), disk, nil, &metav1.CreateOptions{})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "inline disk of VMInstance web") {
		t.Fatalf("want a 409 naming the VMInstance, got %v", err)
	}
	if len(d.cdi.Actions()) != 0 {
		t.Fatalf("nothing may be written, got %v", d.cdi.Actions())
	}
}

func TestCloneFromAnotherNamespaceNeedsTheUsersPermissionThere(t *testing.T) {
	d := newDisks(t, nil)
	other := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "other"}}
	if _, err := d.kube.CoreV1().Namespaces().Create(context.Background(), other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	d.allowed = false
	disk := httpDisk("copy")
	disk.Spec.Source = apps.VMDiskSource{PVC: &apps.PVCDiskSource{Namespace: "other", Name: "data"}}
	_, err := d.store.Create(asAlice(), disk, nil, &metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "cloning from namespace other") {
		t.Fatalf("want a 403 for the clone, got %v", err)
	}
	d.allowed = true
	if _, err := d.store.Create(asAlice(), disk, nil, &metav1.CreateOptions{}); err != nil {
		t.Fatalf("allowed clone: %v", err)
	}
}

func TestGetShowsTheVMInstancesThatAttachTheDisk(t *testing.T) {
	d := newDisks(t, []runtime.Object{dataVolume("data")}, instanceAttaching("web", "data"), instanceAttaching("db"))
	obj, err := d.store.Get(asAlice(), "data", &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if used := obj.(*apps.VMDisk).Status.UsedBy; len(used) != 1 || used[0] != "web" {
		t.Fatalf("usedBy %v, want [web]", used)
	}
}

func TestGetShowsTheUsersTheAttachmentsInformerKnowsOnceSynced(t *testing.T) {
	d := newDisks(t, []runtime.Object{dataVolume("data")}, instanceAttaching("web", "data"))
	d.attachments = attachments{synced: true, users: map[string][]string{tenant + "/data": {"db"}}}
	obj, err := d.store.Get(asAlice(), "data", &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if used := obj.(*apps.VMDisk).Status.UsedBy; len(used) != 1 || used[0] != "db" {
		t.Fatalf("usedBy %v, want the informer's [db]", used)
	}
	if len(d.kubevirt.Actions()) != 0 {
		t.Fatalf("a synced informer needs no VM list, got %v", d.kubevirt.Actions())
	}
}

func TestGetWithoutKubeVirtInstalledShowsNoUsers(t *testing.T) {
	d := newDisks(t, []runtime.Object{dataVolume("data")})
	d.kubevirt.PrependReactor("list", "virtualmachines", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewNotFound(kubevirtv1.Resource("virtualmachines"), "")
	})
	if _, err := d.store.Get(asAlice(), "data", &metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestDeleteOfAnAttachedDiskWithoutProtectionIsAConflict(t *testing.T) {
	d := newDisks(t, []runtime.Object{dataVolume("data")}, instanceAttaching("web", "data"))
	_, _, err := d.store.Delete(asAlice(), "data", nil, &metav1.DeleteOptions{})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "attached to VMInstance web") {
		t.Fatalf("want a 409 naming the VMInstance, got %v", err)
	}
}

func TestDeleteOfAProtectedDiskInUseIsLeftToItsFinalizer(t *testing.T) {
	d := newDisks(t, []runtime.Object{dataVolume("data", backendnames.InUseProtectionFinalizer)}, instanceAttaching("web", "data"))
	if _, _, err := d.store.Delete(asAlice(), "data", nil, &metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestUpdateWritesTheDataVolumeUnderItsResourceVersionWithDryRun(t *testing.T) {
	d := newDisks(t, []runtime.Object{dataVolume("data", backendnames.InUseProtectionFinalizer)})
	current, err := d.store.Get(asAlice(), "data", &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	disk := current.(*apps.VMDisk).DeepCopy()
	disk.Labels = map[string]string{"team": "a"}
	if _, _, err := d.store.Update(asAlice(), "data", rest.DefaultUpdatedObjectInfo(disk), nil, nil, false, &metav1.UpdateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatal(err)
	}
	for _, a := range d.cdi.Actions() {
		if u, ok := a.(clienttesting.UpdateActionImpl); ok {
			dv := u.Object.(*cdiv1.DataVolume)
			if dv.ResourceVersion != "5" || len(u.UpdateOptions.DryRun) == 0 || dv.Labels["team"] != "a" || dv.Labels[backendnames.KindLabel] != backendnames.VMDiskKind {
				t.Fatalf("want a dry-run write at version 5 keeping the kind label, got %+v %+v", dv.ObjectMeta, u.UpdateOptions)
			}
			return
		}
	}
	t.Fatal("no DataVolume update")
}

func TestListAndWatchShowEachDiskWithItsUsers(t *testing.T) {
	d := newDisks(t, []runtime.Object{dataVolume("data"), dataVolume("spare")}, instanceAttaching("web", "data", "late"))
	list, err := d.store.List(asAlice(), &metainternalversion.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	used := map[string][]string{}
	for _, disk := range list.(*apps.VMDiskList).Items {
		used[disk.Name] = disk.Status.UsedBy
	}
	if len(used) != 2 || len(used["data"]) != 1 || len(used["spare"]) != 0 {
		t.Fatalf("got %v", used)
	}
	w, err := d.store.Watch(asAlice(), &metainternalversion.ListOptions{ResourceVersion: "100"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := d.cdi.CdiV1beta1().DataVolumes(tenant).Create(context.Background(), dataVolume("late"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-w.ResultChan():
		if disk, ok := e.Object.(*apps.VMDisk); e.Type != watch.Added || !ok || disk.Name != "late" || len(disk.Status.UsedBy) != 1 {
			t.Fatalf("want the new disk used by web, got %s %+v", e.Type, e.Object)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
}
