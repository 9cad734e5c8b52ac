package vminstance

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	kubevirtv1 "kubevirt.io/api/core/v1"
	instancetypev1beta1 "kubevirt.io/api/instancetype/v1beta1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/backend"
	"github.com/cozystack/vm-apiserver/pkg/catalogue"
	"github.com/cozystack/vm-apiserver/pkg/projection"
	"github.com/cozystack/vm-apiserver/pkg/registry/projected"
)

// VirtualMachines is the backend resource of VMInstances.
var VirtualMachines = schema.GroupVersionResource{Group: "kubevirt.io", Version: "v1", Resource: "virtualmachines"}

// Store is the REST storage of VMInstances.
type Store = projected.Store[*kubevirtv1.VirtualMachine, *kubevirtv1.VirtualMachineList]

// NewREST returns the VMInstance storage; events records what it does on
// the VMInstances.
func NewREST(clients backend.Clients, profiles catalogue.Catalogue, events record.EventRecorder, availability *backend.Availability, typer runtime.ObjectTyper) *Store {
	return &Store{
		Resource:        &virtualMachines{Clients: clients, profiles: profiles, events: events},
		PublicResource:  apps.Resource("vminstances"),
		SingularName:    "vminstance",
		Kind:            projection.VMInstanceKind,
		BackendResource: VirtualMachines,
		BackendProvider: "KubeVirt",
		Availability:    availability,
		FieldSet:        fieldSet,
		NewFunc:         func() runtime.Object { return &apps.VMInstance{} },
		NewListFunc:     func() runtime.Object { return &apps.VMInstanceList{} },
		Strategy:        newStrategy(typer),
		TableConvertor:  tableConvertor{},
		ShortNamesList:  []string{"vmin"},
		CategoryList:    []string{"all", "vmapps"},
	}
}

// virtualMachines reads and writes the backend objects of each VMInstance.
type virtualMachines struct {
	backend.Clients
	profiles catalogue.Catalogue
	events   record.EventRecorder
}

func (v *virtualMachines) Client(namespace string) projected.Client[*kubevirtv1.VirtualMachine, *kubevirtv1.VirtualMachineList] {
	return v.KubeVirt.KubevirtV1().VirtualMachines(namespace)
}

func (*virtualMachines) Items(list *kubevirtv1.VirtualMachineList) []*kubevirtv1.VirtualMachine {
	return projected.Pointers(list.Items)
}

func (v *virtualMachines) ToPublic(ctx context.Context, vm *kubevirtv1.VirtualMachine) (runtime.Object, error) {
	j, err := v.readJoinsOf(ctx, vm)
	if err != nil {
		return nil, err
	}
	return j.project(vm)
}

func (v *virtualMachines) ToPublicList(ctx context.Context, namespace string, vms []*kubevirtv1.VirtualMachine) ([]runtime.Object, error) {
	if len(vms) == 0 {
		return nil, nil
	}
	j, err := v.readJoins(ctx, namespace)
	if err != nil {
		return nil, err
	}
	out := make([]runtime.Object, len(vms))
	for i, vm := range vms {
		inst, err := j.project(vm)
		if err != nil {
			klog.ErrorS(err, "Skipping VirtualMachine that is not a readable VMInstance", "namespace", vm.Namespace, "name", vm.Name)
			continue
		}
		out[i] = inst
	}
	return out, nil
}

// CheckDelete allows every delete: the VM's owner references take its
// Service and Secrets with it.
func (*virtualMachines) CheckDelete(context.Context, *kubevirtv1.VirtualMachine) error { return nil }

func (v *virtualMachines) Create(ctx context.Context, obj runtime.Object, opts *metav1.CreateOptions) (*kubevirtv1.VirtualMachine, error) {
	inst := obj.(*apps.VMInstance)
	inputs, err := v.resolveInputs(ctx, inst)
	if err != nil {
		return nil, err
	}
	desired, err := projection.VMInstanceBackendFor(inst, nil, inputs)
	if err != nil {
		return nil, err
	}
	// Nothing may be in the way of the owned objects before the VM exists.
	if err := v.checkOwnedNamesFree(ctx, inst.Namespace, desired); err != nil {
		return nil, err
	}
	vm, err := v.KubeVirt.KubevirtV1().VirtualMachines(inst.Namespace).Create(ctx, desired.VM, metav1.CreateOptions{DryRun: opts.DryRun})
	if err != nil {
		return nil, err
	}
	if err := v.reconcileOwned(ctx, vm, desired, opts.DryRun); err != nil {
		if len(opts.DryRun) == 0 {
			v.cleanUpFailedCreate(vm)
		}
		return nil, err
	}
	if len(opts.DryRun) == 0 {
		v.recordCreate(vm, desired)
	}
	return vm, nil
}

func (v *virtualMachines) Update(ctx context.Context, obj runtime.Object, current *kubevirtv1.VirtualMachine, opts *metav1.UpdateOptions) (*kubevirtv1.VirtualMachine, error) {
	inst := obj.(*apps.VMInstance)
	inputs, err := v.resolveInputs(ctx, inst)
	if err != nil {
		return nil, err
	}
	desired, err := projection.VMInstanceBackendFor(inst, current, inputs)
	if err != nil {
		return nil, err
	}
	svc, err := v.Kube.CoreV1().Services(inst.Namespace).Get(ctx, inst.Name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, err
	}
	hadService := owned(svc, inst.Name) != nil
	vm, err := v.KubeVirt.KubevirtV1().VirtualMachines(inst.Namespace).Update(ctx, desired.VM, metav1.UpdateOptions{DryRun: opts.DryRun})
	if err != nil {
		return nil, err
	}
	if err := v.reconcileOwned(ctx, vm, desired, opts.DryRun); err != nil {
		return nil, err
	}
	if len(opts.DryRun) == 0 {
		v.recordUpdate(current, vm, hadService, desired)
	}
	return vm, nil
}

// cleanUpFailedCreate deletes the VM of a create that failed half-way, and
// with it (owner references, then explicitly) whatever was made for it.
func (v *virtualMachines) cleanUpFailedCreate(vm *kubevirtv1.VirtualMachine) {
	ctx := context.Background()
	background := metav1.DeletePropagationBackground
	uid := vm.UID
	err := v.KubeVirt.KubevirtV1().VirtualMachines(vm.Namespace).Delete(ctx, vm.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &uid}, PropagationPolicy: &background,
	})
	if err != nil && !apierrors.IsNotFound(err) {
		klog.ErrorS(err, "Could not remove the VirtualMachine of a failed create", "namespace", vm.Namespace, "name", vm.Name)
	}
	none := &projection.VMInstanceBackend{VM: vm}
	if err := v.reconcileOwned(ctx, vm, none, nil); err != nil {
		klog.ErrorS(err, "Could not remove the objects of a failed create", "namespace", vm.Namespace, "name", vm.Name)
	}
}

// instanceTypeSpec is the spec of the cluster instance type name, nil when
// it does not exist.
func (v *virtualMachines) instanceTypeSpec(ctx context.Context, name string) (*instancetypev1beta1.VirtualMachineInstancetypeSpec, error) {
	if name == "" {
		return nil, nil
	}
	it, err := v.KubeVirt.InstancetypeV1beta1().VirtualMachineClusterInstancetypes().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading instance type %s: %w", name, err)
	}
	return &it.Spec, nil
}
