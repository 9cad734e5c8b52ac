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
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	fakediscovery "k8s.io/client-go/discovery/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	kubevirtv1 "kubevirt.io/api/core/v1"
	instancetypev1beta1 "kubevirt.io/api/instancetype/v1beta1"
	cdifake "kubevirt.io/client-go/containerizeddataimporter/fake"
	kubevirtfake "kubevirt.io/client-go/kubevirt/fake"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/apis/apps/install"
	"github.com/cozystack/vm-apiserver/pkg/backend"
	"github.com/cozystack/vm-apiserver/pkg/backend/backendfake"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
	"github.com/cozystack/vm-apiserver/pkg/catalogue"
)

const (
	tenant = "tenant"
	sshKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKdkItMdakQ/H1nAoq2bedZla4ItSC2bpVSFFQyJxXtF admin@example.com"
)

// cluster is a VMInstance store over fake clientsets that answer writes as
// kube-apiserver does: resourceVersions from one revision counter, uids,
// 409 for a stale resourceVersion or a failed delete precondition, and dry
// runs that store nothing.
type cluster struct {
	kube     *kubefake.Clientset
	kubevirt *kubevirtfake.Clientset
	cdi      *cdifake.Clientset
	store    *Store
	clients  backend.Clients
	joined   *JoinCache
	events   *record.FakeRecorder
	revision atomic.Int64
}

// newCluster holds objs besides what the default catalogue's "ubuntu"
// profile and the u1.medium instance type need.
func newCluster(t *testing.T, objs ...runtime.Object) *cluster {
	t.Helper()
	objs = append(objs,
		&instancetypev1beta1.VirtualMachineClusterPreference{ObjectMeta: metav1.ObjectMeta{Name: "ubuntu"}},
		&instancetypev1beta1.VirtualMachineClusterInstancetype{ObjectMeta: metav1.ObjectMeta{Name: "u1.medium"},
			Spec: instancetypev1beta1.VirtualMachineInstancetypeSpec{CPU: instancetypev1beta1.CPUInstancetype{Guest: 1},
				Memory: instancetypev1beta1.MemoryInstancetype{Guest: resource.MustParse("4Gi")}}},
		&cdiv1.DataSource{ObjectMeta: metav1.ObjectMeta{Namespace: catalogue.DefaultImagesNamespace, Name: "ubuntu"}},
	)
	var kube, kubevirt, cdi []runtime.Object
	for _, obj := range objs {
		switch pkg := reflect.TypeOf(obj).Elem().PkgPath(); {
		case strings.HasPrefix(pkg, "kubevirt.io/api/"):
			kubevirt = append(kubevirt, obj)
		case strings.HasPrefix(pkg, "kubevirt.io/containerized-data-importer-api/"):
			cdi = append(cdi, obj)
		default:
			kube = append(kube, obj)
		}
	}
	c := &cluster{
		kube:     kubefake.NewClientset(kube...),
		kubevirt: kubevirtfake.NewSimpleClientset(kubevirt...),
		cdi:      cdifake.NewSimpleClientset(cdi...),
		events:   record.NewFakeRecorder(100),
	}
	c.revision.Store(100)
	c.serveWrites(&c.kube.Fake, c.kube.Tracker())
	c.serveWrites(&c.kubevirt.Fake, c.kubevirt.Tracker())
	c.serveWrites(&c.cdi.Fake, c.cdi.Tracker())
	c.kube.PrependReactor("create", "subjectaccessreviews", func(a clienttesting.Action) (bool, runtime.Object, error) {
		review := a.(clienttesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview).DeepCopy()
		review.Status.Allowed = true
		return true, review, nil
	})
	c.kube.Discovery().(*fakediscovery.FakeDiscovery).Resources = []*metav1.APIResourceList{
		{GroupVersion: "kubevirt.io/v1", APIResources: []metav1.APIResource{{Name: "virtualmachines"}}},
	}
	c.clients = backend.Clients{Kube: c.kube, KubeVirt: backendfake.KubeVirt{Clientset: c.kubevirt}, CDI: backendfake.CDI{Clientset: c.cdi}}
	c.joined = NewJoinCache(c.clients)
	scheme := runtime.NewScheme()
	install.Install(scheme)
	c.store = NewREST(c.clients, Options{
		Profiles: catalogue.Default(), Events: c.events, Availability: backend.NewAvailability(c.kube.Discovery()),
		Joined: c.joined, AllocateLoadBalancerNodePorts: true,
	}, scheme)
	return c
}

func dryRun(opts []string) bool { return len(opts) > 0 }

// serveWrites answers creates, updates, JSON patches and deletes of fake as
// kube-apiserver would.
func (c *cluster) serveWrites(fake *clienttesting.Fake, tracker clienttesting.ObjectTracker) {
	current := func(a clienttesting.Action, name string) (metav1.Object, error) {
		obj, err := tracker.Get(a.GetResource(), a.GetNamespace(), name)
		if err != nil {
			return nil, err
		}
		return meta.Accessor(obj)
	}
	fake.PrependReactor("create", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		create := a.(clienttesting.CreateActionImpl)
		obj := create.Object.DeepCopyObject()
		m, _ := meta.Accessor(obj)
		if _, err := current(a, m.GetName()); err == nil {
			return true, nil, apierrors.NewAlreadyExists(a.GetResource().GroupResource(), m.GetName())
		}
		m.SetNamespace(a.GetNamespace())
		if dryRun(create.CreateOptions.DryRun) {
			return true, obj, nil
		}
		m.SetUID(types.UID(fmt.Sprintf("uid-%s-%d", m.GetName(), c.revision.Load())))
		m.SetResourceVersion(strconv.FormatInt(c.revision.Add(1), 10))
		return true, obj, tracker.Create(a.GetResource(), obj, a.GetNamespace())
	})
	fake.PrependReactor("update", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		update := a.(clienttesting.UpdateActionImpl)
		obj := update.Object.DeepCopyObject()
		m, _ := meta.Accessor(obj)
		was, err := current(a, m.GetName())
		if err != nil {
			return true, nil, err
		}
		if rv := m.GetResourceVersion(); rv != "" && rv != was.GetResourceVersion() {
			return true, nil, apierrors.NewConflict(a.GetResource().GroupResource(), m.GetName(), errors.New(registryConflict))
		}
		m.SetUID(was.GetUID())
		m.SetResourceVersion(was.GetResourceVersion())
		if dryRun(update.UpdateOptions.DryRun) {
			return true, obj, nil
		}
		m.SetResourceVersion(strconv.FormatInt(c.revision.Add(1), 10))
		return true, obj, tracker.Update(a.GetResource(), obj, a.GetNamespace())
	})
	fake.PrependReactor("patch", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		patch := a.(clienttesting.PatchActionImpl)
		if patch.PatchType != types.JSONPatchType {
			return false, nil, nil
		}
		was, err := tracker.Get(a.GetResource(), a.GetNamespace(), patch.Name)
		if err != nil {
			return true, nil, err
		}
		ops, err := jsonpatch.DecodePatch(patch.Patch)
		if err != nil {
			return true, nil, apierrors.NewBadRequest(err.Error())
		}
		doc, err := json.Marshal(was)
		if err != nil {
			return true, nil, err
		}
		if doc, err = ops.Apply(doc); err != nil {
			return true, nil, apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", schema.GroupResource{}, "", err.Error(), 0, false)
		}
		obj := reflect.New(reflect.TypeOf(was).Elem()).Interface().(runtime.Object)
		if err := json.Unmarshal(doc, obj); err != nil {
			return true, nil, err
		}
		if dryRun(patch.PatchOptions.DryRun) {
			return true, obj, nil
		}
		m, _ := meta.Accessor(obj)
		m.SetResourceVersion(strconv.FormatInt(c.revision.Add(1), 10))
		return true, obj, tracker.Update(a.GetResource(), obj, a.GetNamespace())
	})
	fake.PrependReactor("delete", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		del := a.(clienttesting.DeleteActionImpl)
		was, err := current(a, del.Name)
		if err != nil {
			return true, nil, err
		}
		if p := del.DeleteOptions.Preconditions; p != nil &&
			(p.UID != nil && *p.UID != was.GetUID() || p.ResourceVersion != nil && *p.ResourceVersion != was.GetResourceVersion()) {
			return true, nil, apierrors.NewConflict(a.GetResource().GroupResource(), del.Name, errors.New("Precondition failed"))
		}
		if dryRun(del.DeleteOptions.DryRun) {
			return true, nil, nil
		}
		return true, nil, tracker.Delete(a.GetResource(), a.GetNamespace(), del.Name)
	})
}

const registryConflict = "the object has been modified; please apply your changes to the latest version and try again"

// refuse makes the cluster answer verb on the object name of resource
// with err.
func refuse(fake *clienttesting.Fake, verb, resource, name string, err error) {
	fake.PrependReactor(verb, resource, func(a clienttesting.Action) (bool, runtime.Object, error) {
		var target string
		switch a := a.(type) {
		case clienttesting.CreateActionImpl:
			target = a.Object.(metav1.Object).GetName()
		case clienttesting.UpdateActionImpl:
			target = a.Object.(metav1.Object).GetName()
		case clienttesting.DeleteActionImpl:
			target = a.Name
		case clienttesting.PatchActionImpl:
			target = a.Name
		}
		return target == name, nil, err
	})
}

func asAlice() context.Context {
	ctx := genericapirequest.WithNamespace(context.Background(), tenant)
	return genericapirequest.WithUser(ctx, &user.DefaultInfo{Name: "alice"})
}

// instance is a valid VMInstance with every owned object: a Service, the
// cloud-init and the SSH keys Secrets; edits change it.
func instance(name string, edits ...func(*apps.VMInstance)) *apps.VMInstance {
	size := resource.MustParse("10Gi")
	running := true
	inst := &apps.VMInstance{
		ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: name},
		Spec: apps.VMInstanceSpec{
			Running: &running, InstanceType: "u1.medium", InstanceProfile: "ubuntu",
			Disks:    []apps.VMInstanceDisk{{Name: "root", Size: &size, StorageClass: "replicated"}},
			External: true, ExternalPorts: []apps.ExternalPort{{Port: 22, Protocol: "TCP", TargetPort: 22}},
			SSHKeys: []string{sshKey}, CloudInit: "#cloud-config\npackages: [nginx]\n",
		},
	}
	for _, edit := range edits {
		edit(inst)
	}
	return inst
}

func withoutOwnedObjects(inst *apps.VMInstance) {
	inst.Spec.External, inst.Spec.ExternalPorts, inst.Spec.SSHKeys, inst.Spec.CloudInit = false, nil, nil, ""
}

func (c *cluster) create(t *testing.T, inst *apps.VMInstance) *apps.VMInstance {
	t.Helper()
	obj, err := c.store.Create(asAlice(), inst, nil, &metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*apps.VMInstance)
}

func (c *cluster) vm(t *testing.T, name string) *kubevirtv1.VirtualMachine {
	t.Helper()
	vm, err := c.kubevirt.KubevirtV1().VirtualMachines(tenant).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return vm
}

// contents is every VM, Service, Secret and DataVolume in the cluster by
// kind/name, without what the cluster sets on each write, to compare
// states before and after a write that was undone.
func (c *cluster) contents(t *testing.T) map[string]runtime.Object {
	t.Helper()
	out := map[string]runtime.Object{}
	add := func(kind string, gvr schema.GroupVersionResource, tracker clienttesting.ObjectTracker) {
		list, err := tracker.List(gvr, gvr.GroupVersion().WithKind(kind), tenant)
		if err != nil {
			t.Fatal(err)
		}
		items, _ := meta.ExtractList(list)
		for _, item := range items {
			m, _ := meta.Accessor(item)
			m.SetResourceVersion("")
			m.SetUID("")
			m.SetManagedFields(nil)
			for i := range m.GetOwnerReferences() {
				m.GetOwnerReferences()[i].UID = ""
			}
			out[kind+"/"+m.GetName()] = item
		}
	}
	add("VirtualMachine", VirtualMachines, c.kubevirt.Tracker())
	add("Service", corev1.SchemeGroupVersion.WithResource("services"), c.kube.Tracker())
	add("Secret", corev1.SchemeGroupVersion.WithResource("secrets"), c.kube.Tracker())
	add("DataVolume", cdiv1.SchemeGroupVersion.WithResource("datavolumes"), c.cdi.Tracker())
	return out
}

// writes are the mutating actions of every clientset but reviews.
func (c *cluster) writes() []clienttesting.Action {
	var out []clienttesting.Action
	for _, fake := range []*clienttesting.Fake{&c.kube.Fake, &c.kubevirt.Fake, &c.cdi.Fake} {
		for _, a := range fake.Actions() {
			switch a.GetVerb() {
			case "create", "update", "delete", "patch":
				if a.GetResource().Resource != "subjectaccessreviews" {
					out = append(out, a)
				}
			}
		}
	}
	return out
}

// wrote tells whether the cluster was asked to verb resource.
func (c *cluster) wrote(verb, resource string) bool {
	for _, a := range c.writes() {
		if a.GetVerb() == verb && a.GetResource().Resource == resource {
			return true
		}
	}
	return false
}

func labelled(name string) map[string]string {
	return map[string]string{backendnames.InstanceLabel: name}
}
