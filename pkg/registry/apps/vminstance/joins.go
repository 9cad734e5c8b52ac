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

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubevirtv1 "kubevirt.io/api/core/v1"
	instancetypev1beta1 "kubevirt.io/api/instancetype/v1beta1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
	"github.com/cozystack/vm-apiserver/pkg/projection"
)

// joins are the objects besides the VM that VMInstances are read from, by
// namespace/name (instance types by "/name").
type joins struct {
	services      map[string]*corev1.Service
	secrets       map[string]*corev1.Secret
	vmis          map[string]*kubevirtv1.VirtualMachineInstance
	instancetypes map[string]*instancetypev1beta1.VirtualMachineClusterInstancetype
}

// The kinds of joined objects, as the VM's record of their versions names
// them (projection.OwnedKey).
const (
	serviceKind = "Service"
	secretKind  = "Secret"
	vmiKind     = "VirtualMachineInstance"
)

func key(namespace, name string) string { return namespace + "/" + name }

// joinedObject is one joined object of the VMInstance instance.
type joinedObject struct {
	namespace, instance, kind, name string
}

func (o joinedObject) recordKey() string { return projection.OwnedKey(o.kind, o.name) }

// joinedObjectsOf are the objects the VMInstance of vm joins in, whose
// versions its record holds (instance types, shared by many, are not).
func joinedObjectsOf(vm *kubevirtv1.VirtualMachine) []joinedObject {
	joined := func(kind, name string) joinedObject {
		return joinedObject{namespace: vm.Namespace, instance: vm.Name, kind: kind, name: name}
	}
	return []joinedObject{
		joined(serviceKind, vm.Name),
		joined(secretKind, backendnames.CloudInitSecretName(vm.Name)),
		joined(secretKind, backendnames.SSHKeysSecretName(vm.Name)),
		joined(vmiKind, vm.Name),
	}
}

// project reads vm and its joined objects as a VMInstance. A Service or
// Secret counts only when it carries the VMInstance's label, so a tenant's
// own object of the same name is never read as part of it.
func (j *joins) project(vm *kubevirtv1.VirtualMachine) (*apps.VMInstance, error) {
	return projection.VMInstanceFrom(j.backendOf(vm), j.instanceTypeSpec(vm))
}

// instanceTypeSpec is the spec of vm's instance type, nil when unknown.
func (j *joins) instanceTypeSpec(vm *kubevirtv1.VirtualMachine) *instancetypev1beta1.VirtualMachineInstancetypeSpec {
	if it := j.instancetypes[key("", instanceTypeName(vm))]; it != nil {
		return &it.Spec
	}
	return nil
}

func (j *joins) backendOf(vm *kubevirtv1.VirtualMachine) *projection.VMInstanceBackend {
	return &projection.VMInstanceBackend{
		VM:        vm,
		Service:   owned(j.services[key(vm.Namespace, vm.Name)], vm.Name),
		CloudInit: owned(j.secrets[key(vm.Namespace, backendnames.CloudInitSecretName(vm.Name))], vm.Name),
		SSHKeys:   owned(j.secrets[key(vm.Namespace, backendnames.SSHKeysSecretName(vm.Name))], vm.Name),
		VMI:       j.vmis[key(vm.Namespace, vm.Name)],
	}
}

// set puts obj (nil: absent) as the joined object of kind at key.
func (j *joins) set(kind, at string, obj metav1.Object) {
	switch kind {
	case serviceKind:
		setJoined(j.services, at, obj)
	case secretKind:
		setJoined(j.secrets, at, obj)
	case vmiKind:
		setJoined(j.vmis, at, obj)
	}
}

func setJoined[T metav1.Object](m map[string]T, at string, obj metav1.Object) {
	if typed, ok := obj.(T); ok {
		m[at] = typed
	} else {
		delete(m, at)
	}
}

func owned[T interface {
	*corev1.Service | *corev1.Secret
	GetLabels() map[string]string
}](obj T, instance string) T {
	if obj == nil || obj.GetLabels()[backendnames.InstanceLabel] != instance {
		return nil
	}
	return obj
}

func instanceTypeName(vm *kubevirtv1.VirtualMachine) string {
	if vm.Spec.Instancetype != nil {
		return vm.Spec.Instancetype.Name
	}
	return vm.Annotations[backendnames.InstanceTypeAnnotation]
}

// joinsOf reads the joined objects of vms, all in namespace ("" for
// several), from the cache: the Services, Secrets and VMIs at least as new
// as each VM records them (a write of the VMInstance, or the JoinRecorder).
// The kinds are read at once.
func (c *JoinCache) joinsOf(ctx context.Context, namespace string, vms []*kubevirtv1.VirtualMachine) (*joins, error) {
	var services, secrets, vmis, types []wanted
	seenTypes := map[string]bool{}
	for _, vm := range vms {
		versions := projection.OwnedVersionsOf(&vm.ObjectMeta)
		for _, o := range joinedObjectsOf(vm) {
			w := wanted{namespace: o.namespace, name: o.name, fresh: versions.Freshness(o.recordKey())}
			switch o.kind {
			case serviceKind:
				services = append(services, w)
			case secretKind:
				secrets = append(secrets, w)
			case vmiKind:
				vmis = append(vmis, w)
			}
		}
		if it := instanceTypeName(vm); it != "" && !seenTypes[it] {
			seenTypes[it] = true
			types = append(types, wanted{name: it})
		}
	}
	j := newJoins()
	reads, ctx := errgroup.WithContext(ctx)
	reads.Go(func() error { return c.services.read(ctx, namespace, services, j.services) })
	reads.Go(func() error { return c.secrets.read(ctx, namespace, secrets, j.secrets) })
	reads.Go(func() error { return c.vmis.read(ctx, namespace, vmis, j.vmis) })
	reads.Go(func() error { return c.instancetypes.read(ctx, "", types, j.instancetypes) })
	if err := reads.Wait(); err != nil {
		return nil, err
	}
	return j, nil
}

// optional is the object of a read, nil when it (or its kind) does not
// exist.
func optional[T any](obj *T, err error) (*T, error) {
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return obj, nil
}

func newJoins() *joins {
	return &joins{
		services:      map[string]*corev1.Service{},
		secrets:       map[string]*corev1.Secret{},
		vmis:          map[string]*kubevirtv1.VirtualMachineInstance{},
		instancetypes: map[string]*instancetypev1beta1.VirtualMachineClusterInstancetype{},
	}
}
