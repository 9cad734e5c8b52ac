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
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"
	instancetypev1beta1 "kubevirt.io/api/instancetype/v1beta1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/backend"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
	"github.com/cozystack/vm-apiserver/pkg/catalogue"
	"github.com/cozystack/vm-apiserver/pkg/projection"
	"github.com/cozystack/vm-apiserver/pkg/registry/backendstore"
)

// VirtualMachines is the backend resource of VMInstances.
var VirtualMachines = schema.GroupVersionResource{Group: "kubevirt.io", Version: "v1", Resource: "virtualmachines"}

// Store is the REST storage of VMInstances.
type Store = backendstore.Store[*kubevirtv1.VirtualMachine, *kubevirtv1.VirtualMachineList]

// NewREST returns the VMInstance storage; events records what it does on
// the VMInstances.
func NewREST(clients backend.Clients, opts Options, typer runtime.ObjectTyper) *Store {
	return &Store{
		Adapter: &virtualMachines{Clients: clients, profiles: opts.Profiles, events: opts.Events,
			joined: opts.Joined, cachedVMs: opts.VMs, loadBalancerNodePorts: opts.AllocateLoadBalancerNodePorts},
		PublicGroupResource: apps.Resource("vminstances"),
		SingularName:        "vminstance",
		Kind:                backendnames.VMInstanceKind,
		BackendGVR:          VirtualMachines,
		BackendProvider:     "KubeVirt",
		Availability:        opts.Availability,
		Clients:             clients,
		FieldSet:            fieldSet,
		PublicField:         publicField,
		NewFunc:             func() runtime.Object { return &apps.VMInstance{} },
		NewListFunc:         func() runtime.Object { return &apps.VMInstanceList{} },
		Strategy:            newStrategy(typer),
		TableConvertor:      tableConvertor{},
		ShortNamesList:      []string{"vmin"},
		CategoryList:        []string{"all", "vmapps"},
	}
}

// Options are what VMInstance storage needs besides the backend clients.
type Options struct {
	// Profiles is the catalogue spec.instanceProfile names.
	Profiles catalogue.Catalogue
	// Events records what writes did on the VMInstances.
	Events       record.EventRecorder
	Availability *backend.Availability
	// Joined holds the joined objects in memory; the server runs it.
	Joined *JoinCache
	// VMs holds the VMs in memory, for consistent lists (nil: every list
	// is read live).
	VMs VMCache
	// AllocateLoadBalancerNodePorts is the VMInstance Services'
	// spec.allocateLoadBalancerNodePorts: false leaves node ports to
	// load balancers that need them.
	AllocateLoadBalancerNodePorts bool
}

// virtualMachines reads and writes the backend objects of each VMInstance.
type virtualMachines struct {
	backend.Clients
	profiles              catalogue.Catalogue
	events                record.EventRecorder
	joined                *JoinCache
	cachedVMs             VMCache
	loadBalancerNodePorts bool
}

func (v *virtualMachines) Client(namespace string) backendstore.Client[*kubevirtv1.VirtualMachine, *kubevirtv1.VirtualMachineList] {
	return v.KubeVirt.KubevirtV1().VirtualMachines(namespace)
}

func (*virtualMachines) Items(list *kubevirtv1.VirtualMachineList) []*kubevirtv1.VirtualMachine {
	return backendstore.Pointers(list.Items)
}

func (v *virtualMachines) ToPublic(ctx context.Context, vm *kubevirtv1.VirtualMachine) (runtime.Object, error) {
	j, err := v.joined.joinsOf(ctx, vm.Namespace, []*kubevirtv1.VirtualMachine{vm})
	if err != nil {
		return nil, err
	}
	inst, err := j.project(vm)
	if err != nil {
		return nil, backendstore.NotProjectable(err)
	}
	return inst, nil
}

func (v *virtualMachines) ToPublicList(ctx context.Context, namespace string, vms []*kubevirtv1.VirtualMachine) ([]runtime.Object, error) {
	if len(vms) == 0 {
		return nil, nil
	}
	j, err := v.joined.joinsOf(ctx, namespace, vms)
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

// ProjectDryRun shows a dry-run write as it would be stored: the VM the dry
// run returned, with the Service and Secrets the written VMInstance makes
// instead of the live ones (the live Service's status stays: a load
// balancer's address would not change).
func (v *virtualMachines) ProjectDryRun(ctx context.Context, vm *kubevirtv1.VirtualMachine, written runtime.Object) (runtime.Object, error) {
	j, err := v.joined.joinsOf(ctx, vm.Namespace, []*kubevirtv1.VirtualMachine{vm})
	if err != nil {
		return nil, err
	}
	b := j.backendOf(vm)
	live := b.Service
	b.Service, b.CloudInit, b.SSHKeys = projection.OwnedObjectsFor(written.(*apps.VMInstance))
	if b.Service != nil && live != nil {
		b.Service.Status = live.Status
	}
	return projection.VMInstanceFrom(b, j.instanceTypeSpec(vm))
}

var _ backendstore.DryRunProjector[*kubevirtv1.VirtualMachine] = &virtualMachines{}

// CheckDelete allows every delete: the VM's owner references take its
// Service and Secrets with it.
func (*virtualMachines) CheckDelete(context.Context, *kubevirtv1.VirtualMachine) error { return nil }

// Create writes a new VMInstance: every check first, then the VM (with the
// write marker while there are owned objects to make), then its Service and
// Secrets; a failure removes what was made and restores what was taken over.
func (v *virtualMachines) Create(ctx context.Context, obj runtime.Object, opts *metav1.CreateOptions) (*kubevirtv1.VirtualMachine, error) {
	inst := obj.(*apps.VMInstance)
	desired, steps, err := v.prepareWrite(ctx, inst, nil)
	if err != nil {
		return nil, err
	}
	marker := v.markIfOwnedChange(desired.VM, steps, opts.DryRun)
	vm, err := v.KubeVirt.KubevirtV1().VirtualMachines(inst.Namespace).Create(ctx, desired.VM, metav1.CreateOptions{DryRun: opts.DryRun})
	if err != nil {
		return nil, err
	}
	if vm, err = v.finishWrite(ctx, vm, nil, steps, marker, opts.DryRun); err != nil {
		return nil, err
	}
	if len(opts.DryRun) == 0 {
		v.recordCreate(vm, desired)
	}
	return vm, nil
}

// Update writes a VMInstance over its current VM, serialised against every
// other write (serialize.go): checks first, then the VM under the
// resourceVersion it was read with, then the owned objects; a failure puts
// everything back.
func (v *virtualMachines) Update(ctx context.Context, obj runtime.Object, current *kubevirtv1.VirtualMachine, opts *metav1.UpdateOptions) (*kubevirtv1.VirtualMachine, error) {
	inst := obj.(*apps.VMInstance)
	if err := checkNoWriteInProgress(current, time.Now()); err != nil {
		return nil, err
	}
	desired, steps, err := v.prepareWrite(ctx, inst, current)
	if err != nil {
		return nil, err
	}
	marker := v.markIfOwnedChange(desired.VM, steps, opts.DryRun)
	vm, err := v.KubeVirt.KubevirtV1().VirtualMachines(inst.Namespace).Update(ctx, desired.VM, metav1.UpdateOptions{DryRun: opts.DryRun})
	if err != nil {
		return nil, err
	}
	if vm, err = v.finishWrite(ctx, vm, current, steps, marker, opts.DryRun); err != nil {
		return nil, err
	}
	if len(opts.DryRun) == 0 {
		v.recordUpdate(current, vm, steps)
	}
	return vm, nil
}

// prepareWrite resolves and checks everything a write needs before the
// first backend write: what the spec refers to, the DataVolume names of new
// inline disks (both read at once; a 422 about the spec is reported before
// a 409 about names), and the owned objects' names and current versions.
func (v *virtualMachines) prepareWrite(ctx context.Context, inst *apps.VMInstance, current *kubevirtv1.VirtualMachine) (*projection.VMInstanceBackend, []*ownedStep, error) {
	var inputs projection.VMInstanceInputs
	var inputsErr, namesErr error
	var checks sync.WaitGroup
	checks.Add(2)
	go func() {
		defer checks.Done()
		inputs, inputsErr = v.resolveInputs(ctx, inst, current)
	}()
	go func() {
		defer checks.Done()
		namesErr = v.checkDataVolumeNames(ctx, inst, current)
	}()
	checks.Wait()
	if inputsErr != nil {
		return nil, nil, inputsErr
	}
	if namesErr != nil {
		return nil, nil, namesErr
	}
	desired, err := projection.VMInstanceBackendFor(inst, current, inputs)
	if err != nil {
		return nil, nil, err
	}
	if desired.Service != nil && !v.loadBalancerNodePorts {
		// Set on create only: an existing Service keeps the node ports it
		// has (planOwned merges into it).
		desired.Service.Spec.AllocateLoadBalancerNodePorts = ptr.To(false)
	}
	steps, err := v.planOwned(ctx, inst.Namespace, desired)
	if err != nil {
		return nil, nil, err
	}
	return desired, steps, nil
}

// markIfOwnedChange sets a new write marker on vm when the write changes an
// owned object, and returns it ("" when none is needed: the VM write alone
// is then serialised by its resourceVersion).
func (v *virtualMachines) markIfOwnedChange(vm *kubevirtv1.VirtualMachine, steps []*ownedStep, dryRun []string) string {
	delete(vm.Annotations, backendnames.WriteInProgressAnnotation)
	if len(steps) == 0 || len(dryRun) > 0 {
		return ""
	}
	marker := backendnames.NewWriteMarker()
	if vm.Annotations == nil {
		vm.Annotations = map[string]string{}
	}
	vm.Annotations[backendnames.WriteInProgressAnnotation] = marker
	return marker
}

// finishWrite writes the owned objects after the VM and clears the marker.
// When an owned write or the marker's removal fails, the VM is restored to
// before (deleted when before is nil: a create) and the owned objects
// written so far as they were; the error says whether that worked. A
// conflict clearing the marker means another write took the VMInstance
// over: what that one writes stands.
func (v *virtualMachines) finishWrite(ctx context.Context, vm, before *kubevirtv1.VirtualMachine, steps []*ownedStep, marker string, dryRun []string) (*kubevirtv1.VirtualMachine, error) {
	err := writeOwned(ctx, vm, steps, dryRun)
	if err == nil {
		if marker == "" {
			return vm, nil
		}
		cleared, clearErr := v.clearWriteMarker(ctx, vm, marker, ownedVersions(&vm.ObjectMeta, steps))
		if clearErr == nil || apierrors.IsConflict(clearErr) {
			return cleared, clearErr
		}
		err = &ownedWriteFailure{object: ownedObject{kind: "VirtualMachine", name: vm.Name}, err: clearErr}
	}
	failure, ok := err.(*ownedWriteFailure)
	if !ok {
		return nil, err
	}
	outcome := "nothing was changed"
	if len(dryRun) == 0 {
		// The request is over; the rollback must happen all the same.
		undo := context.WithoutCancel(ctx)
		failed := rollBackOwned(undo, steps)
		var vmErr error
		if before == nil {
			vmErr = v.deleteVM(undo, vm)
		} else {
			vmErr = v.restoreVM(undo, vm, before)
		}
		if vmErr != nil {
			failed = append(failed, fmt.Errorf("VirtualMachine %s: %w", vm.Name, vmErr))
		}
		if len(failed) > 0 {
			klog.ErrorS(utilerrors.NewAggregate(failed), "Could not undo a failed VMInstance write", "namespace", vm.Namespace, "name", vm.Name)
			outcome = fmt.Sprintf("undoing the rest of the write failed too (%v), so the VMInstance may be partly changed: read it and write it again", utilerrors.NewAggregate(failed))
		}
	}
	return nil, ownedWriteError(vm.Name, failure.object, failure.err, outcome)
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
