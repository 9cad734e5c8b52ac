package vminstance

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubevirtv1 "kubevirt.io/api/core/v1"
	instancetypev1beta1 "kubevirt.io/api/instancetype/v1beta1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/projection"
)

// joins are the objects besides the VM that VMInstances are read from, by
// namespace/name. They are read live, so that a read after a write sees it.
type joins struct {
	services      map[string]*corev1.Service
	secrets       map[string]*corev1.Secret
	vmis          map[string]*kubevirtv1.VirtualMachineInstance
	instancetypes map[string]*instancetypev1beta1.VirtualMachineInstancetypeSpec
}

func key(namespace, name string) string { return namespace + "/" + name }

// project reads vm and its joined objects as a VMInstance. A Service or
// Secret counts only when it carries the VMInstance's label, so a tenant's
// own object of the same name is never read as part of it.
func (j *joins) project(vm *kubevirtv1.VirtualMachine) (*apps.VMInstance, error) {
	b := &projection.VMInstanceBackend{
		VM:        vm,
		Service:   owned(j.services[key(vm.Namespace, vm.Name)], vm.Name),
		CloudInit: owned(j.secrets[key(vm.Namespace, projection.CloudInitSecretName(vm.Name))], vm.Name),
		SSHKeys:   owned(j.secrets[key(vm.Namespace, projection.SSHKeysSecretName(vm.Name))], vm.Name),
		VMI:       j.vmis[key(vm.Namespace, vm.Name)],
	}
	return projection.VMInstanceFrom(b, j.instancetypes[instanceTypeName(vm)])
}

func owned[T interface {
	*corev1.Service | *corev1.Secret
	GetLabels() map[string]string
}](obj T, instance string) T {
	if obj == nil || obj.GetLabels()[projection.InstanceLabel] != instance {
		return nil
	}
	return obj
}

func instanceTypeName(vm *kubevirtv1.VirtualMachine) string {
	if vm.Spec.Instancetype != nil {
		return vm.Spec.Instancetype.Name
	}
	return vm.Annotations[projection.InstanceTypeAnnotation]
}

// readJoinsOf reads the joined objects of one VM.
func (v *virtualMachines) readJoinsOf(ctx context.Context, vm *kubevirtv1.VirtualMachine) (*joins, error) {
	j := newJoins()
	ns := vm.Namespace
	svc, err := v.Kube.CoreV1().Services(ns).Get(ctx, vm.Name, metav1.GetOptions{})
	if err := j.add(err, func() { j.services[key(ns, vm.Name)] = svc }); err != nil {
		return nil, err
	}
	for _, name := range []string{projection.CloudInitSecretName(vm.Name), projection.SSHKeysSecretName(vm.Name)} {
		secret, err := v.Kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if err := j.add(err, func() { j.secrets[key(ns, name)] = secret }); err != nil {
			return nil, err
		}
	}
	vmi, err := v.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, vm.Name, metav1.GetOptions{})
	if err := j.add(err, func() { j.vmis[key(ns, vm.Name)] = vmi }); err != nil {
		return nil, err
	}
	name := instanceTypeName(vm)
	spec, err := v.instanceTypeSpec(ctx, name)
	if err != nil {
		return nil, err
	}
	j.instancetypes[name] = spec
	return j, nil
}

// readJoins reads the joined objects of every VMInstance in namespace ("" for
// all) with one list per kind.
func (v *virtualMachines) readJoins(ctx context.Context, namespace string) (*joins, error) {
	j := newJoins()
	selector := metav1.ListOptions{LabelSelector: projection.InstanceLabel}
	services, err := v.Kube.CoreV1().Services(namespace).List(ctx, selector)
	if err != nil {
		return nil, err
	}
	for i := range services.Items {
		s := &services.Items[i]
		j.services[key(s.Namespace, s.Name)] = s
	}
	secrets, err := v.Kube.CoreV1().Secrets(namespace).List(ctx, selector)
	if err != nil {
		return nil, err
	}
	for i := range secrets.Items {
		s := &secrets.Items[i]
		j.secrets[key(s.Namespace, s.Name)] = s
	}
	vmis, err := v.KubeVirt.KubevirtV1().VirtualMachineInstances(namespace).List(ctx, selector)
	if err := j.add(err, func() {
		for i := range vmis.Items {
			vmi := &vmis.Items[i]
			j.vmis[key(vmi.Namespace, vmi.Name)] = vmi
		}
	}); err != nil {
		return nil, err
	}
	types, err := v.KubeVirt.InstancetypeV1beta1().VirtualMachineClusterInstancetypes().List(ctx, metav1.ListOptions{})
	if err := j.add(err, func() {
		for i := range types.Items {
			j.instancetypes[types.Items[i].Name] = &types.Items[i].Spec
		}
	}); err != nil {
		return nil, err
	}
	return j, nil
}

func newJoins() *joins {
	return &joins{
		services:      map[string]*corev1.Service{},
		secrets:       map[string]*corev1.Secret{},
		vmis:          map[string]*kubevirtv1.VirtualMachineInstance{},
		instancetypes: map[string]*instancetypev1beta1.VirtualMachineInstancetypeSpec{},
	}
}

// add records a read: not found is an absent object, other errors fail.
func (j *joins) add(err error, record func()) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	record()
	return nil
}
