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
	return projection.VMInstanceFrom(j.backendOf(vm), j.instancetypes[instanceTypeName(vm)])
}

func (j *joins) backendOf(vm *kubevirtv1.VirtualMachine) *projection.VMInstanceBackend {
	return &projection.VMInstanceBackend{
		VM:        vm,
		Service:   owned(j.services[key(vm.Namespace, vm.Name)], vm.Name),
		CloudInit: owned(j.secrets[key(vm.Namespace, projection.CloudInitSecretName(vm.Name))], vm.Name),
		SSHKeys:   owned(j.secrets[key(vm.Namespace, projection.SSHKeysSecretName(vm.Name))], vm.Name),
		VMI:       j.vmis[key(vm.Namespace, vm.Name)],
	}
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

// readJoinsOf reads the joined objects of one VM, all at once: they are
// independent GETs, and a VMInstance read waits for the slowest of them
// rather than for their sum.
func (v *virtualMachines) readJoinsOf(ctx context.Context, vm *kubevirtv1.VirtualMachine) (*joins, error) {
	ns := vm.Namespace
	var (
		svc                *corev1.Service
		cloudInit, sshKeys *corev1.Secret
		vmi                *kubevirtv1.VirtualMachineInstance
		spec               *instancetypev1beta1.VirtualMachineInstancetypeSpec
	)
	reads, ctx := errgroup.WithContext(ctx)
	reads.Go(func() (err error) {
		svc, err = optional(v.Kube.CoreV1().Services(ns).Get(ctx, vm.Name, metav1.GetOptions{}))
		return err
	})
	reads.Go(func() (err error) {
		cloudInit, err = optional(v.Kube.CoreV1().Secrets(ns).Get(ctx, projection.CloudInitSecretName(vm.Name), metav1.GetOptions{}))
		return err
	})
	reads.Go(func() (err error) {
		sshKeys, err = optional(v.Kube.CoreV1().Secrets(ns).Get(ctx, projection.SSHKeysSecretName(vm.Name), metav1.GetOptions{}))
		return err
	})
	reads.Go(func() (err error) {
		vmi, err = optional(v.KubeVirt.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, vm.Name, metav1.GetOptions{}))
		return err
	})
	reads.Go(func() (err error) {
		spec, err = v.instanceTypeSpec(ctx, instanceTypeName(vm))
		return err
	})
	if err := reads.Wait(); err != nil {
		return nil, err
	}
	j := newJoins()
	j.services[key(ns, vm.Name)] = svc
	j.secrets[key(ns, projection.CloudInitSecretName(vm.Name))] = cloudInit
	j.secrets[key(ns, projection.SSHKeysSecretName(vm.Name))] = sshKeys
	j.vmis[key(ns, vm.Name)] = vmi
	j.instancetypes[instanceTypeName(vm)] = spec
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

// readJoins reads the joined objects of every VMInstance in namespace ("" for
// all) with one list per kind. Services and Secrets hold spec fields and are
// read consistently. VMIs and instance types only feed status and come from
// kube-apiserver's watch cache (resourceVersion "0"): a consistent list waits
// for the cache to catch up with etcd's latest revision, up to 100 ms after
// any write in the cluster, per kind.
func (v *virtualMachines) readJoins(ctx context.Context, namespace string) (*joins, error) {
	j := newJoins()
	selector := metav1.ListOptions{LabelSelector: projection.InstanceLabel}
	cached := metav1.ListOptions{LabelSelector: projection.InstanceLabel, ResourceVersion: "0"}
	// The lists run at once; each fills a map of its own.
	reads, ctx := errgroup.WithContext(ctx)
	reads.Go(func() error {
		services, err := v.Kube.CoreV1().Services(namespace).List(ctx, selector)
		if err != nil {
			return err
		}
		for i := range services.Items {
			s := &services.Items[i]
			j.services[key(s.Namespace, s.Name)] = s
		}
		return nil
	})
	reads.Go(func() error {
		secrets, err := v.Kube.CoreV1().Secrets(namespace).List(ctx, selector)
		if err != nil {
			return err
		}
		for i := range secrets.Items {
			s := &secrets.Items[i]
			j.secrets[key(s.Namespace, s.Name)] = s
		}
		return nil
	})
	reads.Go(func() error {
		vmis, err := optional(v.KubeVirt.KubevirtV1().VirtualMachineInstances(namespace).List(ctx, cached))
		if vmis == nil {
			return err
		}
		for i := range vmis.Items {
			vmi := &vmis.Items[i]
			j.vmis[key(vmi.Namespace, vmi.Name)] = vmi
		}
		return nil
	})
	reads.Go(func() error {
		types, err := optional(v.KubeVirt.InstancetypeV1beta1().VirtualMachineClusterInstancetypes().List(ctx, metav1.ListOptions{ResourceVersion: "0"}))
		if types == nil {
			return err
		}
		for i := range types.Items {
			j.instancetypes[types.Items[i].Name] = &types.Items[i].Spec
		}
		return nil
	})
	if err := reads.Wait(); err != nil {
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
