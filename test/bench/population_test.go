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

package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kubevirtv1 "kubevirt.io/api/core/v1"

	appsv1alpha1 "github.com/cozystack/vm-apiserver/pkg/apis/apps/v1alpha1"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
	"github.com/cozystack/vm-apiserver/pkg/projection"
)

const (
	// perNamespace VMInstances share a namespace, a tenant's worth.
	perNamespace = 100
	// externalEvery: one VMInstance in five has a LoadBalancer Service.
	// Without the no-node-ports flag each takes a node port, so 10,000
	// VMInstances hold 2,000 of the 2,768 the default range has.
	externalEvery = 5
	// populateWorkers write the copies at once. Each copy waits mostly on
	// virt-api's webhook; populating 3,000 took 2m39s with 32 workers,
	// 2m12s with 64 and with 128.
	populateWorkers = 64
)

func objectName(i int) string      { return fmt.Sprintf("vm-%05d", i) }
func objectNamespace(i int) string { return fmt.Sprintf("bench-%03d", i/perNamespace) }

// shape is one kind of VMInstance in the population: the first of each is
// created through vm-apiserver, the rest are copies of its backend
// objects, written directly (creating 10,000 through vm-apiserver would
// take most of the run).
type shape struct {
	index   int
	spec    appsv1alpha1.VMInstanceSpec
	vm      *kubevirtv1.VirtualMachine
	service *corev1.Service
	secrets []*corev1.Secret
}

// shapeOf is the shape object i has: the templates are objects 0
// (external) and 1 (internal).
func shapeOf(shapes []*shape, i int) *shape {
	if i%externalEvery == 0 {
		return shapes[0]
	}
	return shapes[1]
}

func specOf(t testing.TB, external bool) appsv1alpha1.VMInstanceSpec {
	// Stopped: no node runs here, and a running VMInstance would only add
	// virt-controller's VMI and launcher pod, pending forever, to each.
	stopped := false
	spec := appsv1alpha1.VMInstanceSpec{Running: &stopped, SSHKeys: []string{sshKey(t)}}
	if external {
		spec.External = true
		spec.ExternalPorts = []appsv1alpha1.ExternalPort{{Port: 22}}
	}
	return spec
}

// population is the VMInstances written so far: objects 0 to count-1.
type population struct {
	c      clients
	count  int
	shapes []*shape
}

// grow writes objects p.count to n-1 and checks that vm-apiserver lists
// exactly n VMInstances, copies included.
func (p *population) grow(t *testing.T, n int) {
	t.Helper()
	ctx := context.Background()
	start := time.Now()
	for ns := p.count / perNamespace; ns*perNamespace < n; ns++ {
		name := objectNamespace(ns * perNamespace)
		_, err := p.c.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	if p.shapes == nil {
		for i, external := range []bool{true, false} {
			p.shapes = append(p.shapes, p.template(t, i, specOf(t, external)))
		}
		p.count = len(p.shapes)
	}
	work, ctx := errgroup.WithContext(ctx)
	work.SetLimit(populateWorkers)
	for i := p.count; i < n; i++ {
		work.Go(func() error { return p.copy(ctx, shapeOf(p.shapes, i), objectNamespace(i), objectName(i), true) })
	}
	if err := work.Wait(); err != nil {
		t.Fatalf("populating: %v", err)
	}
	p.count = n
	t.Logf("populated %d VMInstances in %s", n, time.Since(start).Round(time.Millisecond))
	p.verify(t)
}

// template creates VMInstance i through vm-apiserver and reads back what
// it became.
func (p *population) template(t *testing.T, i int, spec appsv1alpha1.VMInstanceSpec) *shape {
	t.Helper()
	ctx := context.Background()
	ns, name := objectNamespace(i), objectName(i)
	created, err := p.c.apps.AppsV1alpha1().VMInstances(ns).Create(ctx, &appsv1alpha1.VMInstance{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := &shape{index: i, spec: created.Spec}
	if s.vm, err = p.c.kv.KubevirtV1().VirtualMachines(ns).Get(ctx, name, metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if spec.External {
		if s.service, err = p.c.kube.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, secret := range []string{backendnames.CloudInitSecretName(name), backendnames.SSHKeysSecretName(name)} {
		got, err := p.c.kube.CoreV1().Secrets(ns).Get(ctx, secret, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s.secrets = append(s.secrets, got)
	}
	return s
}

// copy writes the backend objects of a VMInstance ns/name like the
// shape's, as vm-apiserver writes them: the VM marked as being written,
// then its Service and Secrets owned by it, then the VM again without the
// marker and with their versions recorded. vm-apiserver's join recorder
// then finds nothing to record. A settled copy's VM carries from the start
// the finalizer virt-controller otherwise adds to every VM in a write of
// its own: populating spares that write, while the CREATE figure, whose
// copies are not settled, pays it on each path.
func (p *population) copy(ctx context.Context, s *shape, ns, name string, settled bool) error {
	vm, err := vmCopy(s, ns, name)
	if err != nil {
		return err
	}
	if settled {
		vm.Finalizers = []string{kubevirtv1.VirtualMachineControllerFinalizer}
	}
	if vm.Annotations == nil {
		vm.Annotations = map[string]string{}
	}
	vm.Annotations[backendnames.WriteInProgressAnnotation] = backendnames.NewWriteMarker()
	delete(vm.Annotations, backendnames.OwnedVersionsAnnotation)
	if vm, err = p.c.kv.KubevirtV1().VirtualMachines(ns).Create(ctx, vm, metav1.CreateOptions{}); err != nil {
		return err
	}
	versions, err := p.copyOwned(ctx, s, vm)
	if err != nil {
		return err
	}
	return p.finishWrite(ctx, vm, versions)
}

// copyVM creates the shape's VM alone as ns/name.
func (p *population) copyVM(ctx context.Context, s *shape, ns, name string) (*kubevirtv1.VirtualMachine, error) {
	vm, err := vmCopy(s, ns, name)
	if err != nil {
		return nil, err
	}
	return p.c.kv.KubevirtV1().VirtualMachines(ns).Create(ctx, vm, metav1.CreateOptions{})
}

// vmCopy is the shape's VM as ns/name, not written yet.
func vmCopy(s *shape, ns, name string) (*kubevirtv1.VirtualMachine, error) {
	return renamed(&kubevirtv1.VirtualMachine{ObjectMeta: kept(s.vm.ObjectMeta, ns, name), Spec: s.vm.Spec}, objectName(s.index), name)
}

// finishWrite takes the marker off vm and records versions in one merge
// patch: it keeps what virt-controller wrote meanwhile and cannot
// conflict, and nothing else writes these annotations.
func (p *population) finishWrite(ctx context.Context, vm *kubevirtv1.VirtualMachine, versions projection.OwnedVersions) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{
		backendnames.WriteInProgressAnnotation: nil,
		backendnames.OwnedVersionsAnnotation:   versions.Annotation(),
	}}})
	if err != nil {
		return err
	}
	_, err = p.c.kv.KubevirtV1().VirtualMachines(vm.Namespace).Patch(ctx, vm.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}

// copyOwned creates the shape's Service and Secrets for vm, all at once,
// and returns the versions they were created at.
func (p *population) copyOwned(ctx context.Context, s *shape, vm *kubevirtv1.VirtualMachine) (projection.OwnedVersions, error) {
	from, ns, name := objectName(s.index), vm.Namespace, vm.Name
	var mu sync.Mutex
	versions := projection.OwnedVersions{}
	record := func(kind string, obj metav1.Object, err error) error {
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		versions[projection.OwnedKey(kind, obj.GetName())] = obj.GetResourceVersion()
		return nil
	}
	writes, ctx := errgroup.WithContext(ctx)
	if s.service != nil {
		writes.Go(func() error {
			svc, err := renamed(&corev1.Service{ObjectMeta: ownedBy(s.service.ObjectMeta, vm), Spec: s.service.Spec}, from, name)
			if err != nil {
				return err
			}
			// What the cluster allocated is the template's own.
			svc.Spec.ClusterIP, svc.Spec.ClusterIPs, svc.Spec.HealthCheckNodePort = "", nil, 0
			for i := range svc.Spec.Ports {
				svc.Spec.Ports[i].NodePort = 0
			}
			svc, err = p.c.kube.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
			return record("Service", svc, err)
		})
	}
	for _, secret := range s.secrets {
		writes.Go(func() error {
			copied, err := renamed(&corev1.Secret{ObjectMeta: ownedBy(secret.ObjectMeta, vm), Type: secret.Type, Data: secret.Data}, from, name)
			if err != nil {
				return err
			}
			copied, err = p.c.kube.CoreV1().Secrets(ns).Create(ctx, copied, metav1.CreateOptions{})
			return record("Secret", copied, err)
		})
	}
	return versions, writes.Wait()
}

// ownedBy is meta's labels and annotations, its name still the
// template's (renamed rewrites it), owned by vm as the template's object
// is by its VM.
func ownedBy(meta metav1.ObjectMeta, vm *kubevirtv1.VirtualMachine) metav1.ObjectMeta {
	out := kept(meta, vm.Namespace, meta.Name)
	out.OwnerReferences = nil
	for _, ref := range meta.OwnerReferences {
		ref.Name, ref.UID = vm.Name, vm.UID
		out.OwnerReferences = append(out.OwnerReferences, ref)
	}
	return out
}

// kept is meta's labels and annotations under a new namespace and name:
// what a create may carry.
func kept(meta metav1.ObjectMeta, ns, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name, Labels: meta.Labels, Annotations: meta.Annotations}
}

// renamed rewrites obj (through JSON) so that every string naming the
// template VMInstance from, or one of its objects (from-...), names to
// instead: the instance label, Secret references, disk names.
// The result is a new object: obj shares its maps with the template, which
// every worker reads at once.
func renamed[T any](obj *T, from, to string) (*T, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	data = bytes.ReplaceAll(data, []byte(`"`+from+`"`), []byte(`"`+to+`"`))
	data = bytes.ReplaceAll(data, []byte(`"`+from+`-`), []byte(`"`+to+`-`))
	out := new(T)
	return out, json.Unmarshal(data, out)
}

// verify checks that vm-apiserver lists exactly the population, and that
// the last copy of each shape reads back as its template.
func (p *population) verify(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	// A namespace of an earlier scale's creates may still be going away.
	poll(t, fmt.Sprintf("vm-apiserver to list %d VMInstances", p.count), time.Second, 5*time.Minute, func(ctx context.Context) (bool, string) {
		list, err := p.c.apps.AppsV1alpha1().VMInstances("").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		return len(list.Items) == p.count, fmt.Sprintf("%d listed", len(list.Items))
	})
	for _, s := range p.shapes {
		last := p.count - 1
		for shapeOf(p.shapes, last) != s {
			last--
		}
		got, err := p.c.apps.AppsV1alpha1().VMInstances(objectNamespace(last)).Get(ctx, objectName(last), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(s.spec, got.Spec); diff != "" {
			t.Fatalf("copy %s reads back unlike its template %s (-template +copy):\n%s", objectName(last), objectName(s.index), diff)
		}
	}
}
