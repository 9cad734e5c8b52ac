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

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/cozystack/vm-apiserver/pkg/backendnames"
	"github.com/cozystack/vm-apiserver/pkg/projection"
)

// ownedObject is one Service or Secret a VMInstance owns: how to read and
// write it, and its desired version (nil: must not exist). Writes carry the
// resourceVersion and uid of the object as read, so that a change made in
// between fails the write instead of being overwritten.
type ownedObject struct {
	kind    string
	name    string
	desired metav1.Object
	get     func(ctx context.Context) (metav1.Object, error)
	create  func(ctx context.Context, obj metav1.Object, dryRun []string) (metav1.Object, error)
	update  func(ctx context.Context, obj metav1.Object, dryRun []string) (metav1.Object, error)
	delete  func(ctx context.Context, current metav1.Object, dryRun []string) error
	// merge is current with the desired content (and owner) in place, what
	// the cluster allocated kept.
	merge func(current metav1.Object, owner metav1.OwnerReference) metav1.Object
}

func (v *virtualMachines) ownedObjects(namespace string, b *projection.VMInstanceBackend) []ownedObject {
	services := v.Kube.CoreV1().Services(namespace)
	secrets := v.Kube.CoreV1().Secrets(namespace)
	svc := ownedObject{
		kind: serviceKind, name: b.VM.Name,
		get: func(ctx context.Context) (metav1.Object, error) {
			return services.Get(ctx, b.VM.Name, metav1.GetOptions{})
		},
		create: func(ctx context.Context, obj metav1.Object, dryRun []string) (metav1.Object, error) {
			return services.Create(ctx, obj.(*corev1.Service), metav1.CreateOptions{DryRun: dryRun})
		},
		update: func(ctx context.Context, obj metav1.Object, dryRun []string) (metav1.Object, error) {
			return services.Update(ctx, obj.(*corev1.Service), metav1.UpdateOptions{DryRun: dryRun})
		},
		delete: func(ctx context.Context, current metav1.Object, dryRun []string) error {
			return services.Delete(ctx, current.GetName(), deleteExactly(current, dryRun))
		},
		merge: func(current metav1.Object, owner metav1.OwnerReference) metav1.Object {
			out := current.(*corev1.Service).DeepCopy()
			// Keep what the cluster allocated (cluster IP, node ports).
			nodePorts := map[string]int32{}
			for _, p := range out.Spec.Ports {
				nodePorts[p.Name] = p.NodePort
			}
			out.Labels = b.Service.Labels
			out.OwnerReferences = []metav1.OwnerReference{owner}
			out.Spec.Type = b.Service.Spec.Type
			out.Spec.Selector = b.Service.Spec.Selector
			out.Spec.Ports = b.Service.Spec.DeepCopy().Ports
			for i := range out.Spec.Ports {
				out.Spec.Ports[i].NodePort = nodePorts[out.Spec.Ports[i].Name]
			}
			return out
		},
	}
	if b.Service != nil {
		svc.desired = b.Service
	}
	objects := []ownedObject{svc}
	for _, s := range []struct {
		name    string
		desired *corev1.Secret
	}{
		{backendnames.CloudInitSecretName(b.VM.Name), b.CloudInit},
		{backendnames.SSHKeysSecretName(b.VM.Name), b.SSHKeys},
	} {
		o := ownedObject{
			kind: secretKind, name: s.name,
			get: func(ctx context.Context) (metav1.Object, error) { return secrets.Get(ctx, s.name, metav1.GetOptions{}) },
			create: func(ctx context.Context, obj metav1.Object, dryRun []string) (metav1.Object, error) {
				return secrets.Create(ctx, obj.(*corev1.Secret), metav1.CreateOptions{DryRun: dryRun})
			},
			update: func(ctx context.Context, obj metav1.Object, dryRun []string) (metav1.Object, error) {
				return secrets.Update(ctx, obj.(*corev1.Secret), metav1.UpdateOptions{DryRun: dryRun})
			},
			delete: func(ctx context.Context, current metav1.Object, dryRun []string) error {
				return secrets.Delete(ctx, s.name, deleteExactly(current, dryRun))
			},
			merge: func(current metav1.Object, owner metav1.OwnerReference) metav1.Object {
				out := current.(*corev1.Secret).DeepCopy()
				out.Labels = s.desired.Labels
				out.Annotations = s.desired.Annotations
				out.OwnerReferences = []metav1.OwnerReference{owner}
				out.Type = s.desired.Type
				out.Data = s.desired.Data
				out.StringData = nil
				return out
			},
		}
		if s.desired != nil {
			o.desired = s.desired
		}
		objects = append(objects, o)
	}
	return objects
}

// deleteExactly deletes the object as read, and no later version of it.
func deleteExactly(current metav1.Object, dryRun []string) metav1.DeleteOptions {
	uid, rv := current.GetUID(), current.GetResourceVersion()
	return metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid, ResourceVersion: &rv}, DryRun: dryRun}
}

// ownedStep is what a write does to one owned object, decided before the
// first write so that a refusal changes nothing.
type ownedStep struct {
	object ownedObject
	// before is the object as read (nil: absent).
	before metav1.Object
	// done is set once the step was written, for the rollback; after is
	// the object as written (nil: deleted).
	done  bool
	after metav1.Object
}

// changes tells whether the step writes anything, with owner as the
// owner it gives.
func (s *ownedStep) changes(owner metav1.OwnerReference) bool {
	switch {
	case s.before == nil:
		return s.object.desired != nil
	case s.object.desired == nil:
		return true
	}
	return !equality.Semantic.DeepEqual(s.object.merge(s.before, owner), s.before)
}

// planOwned reads the owned objects of b (at once) and decides their writes: those
// whose content is already as desired are not written again, so that their
// resourceVersions stay. A name
// taken by an object that does not carry the VMInstance's label is a 409
// naming it; one that carries it is the VMInstance's own (also when a
// `delete --cascade=orphan` of an earlier VMInstance of the name left it
// behind) and is taken over.
func (v *virtualMachines) planOwned(ctx context.Context, namespace string, b *projection.VMInstanceBackend) ([]*ownedStep, error) {
	var steps []*ownedStep
	owner := ownerReference(b.VM)
	objects := v.ownedObjects(namespace, b)
	currents := make([]metav1.Object, len(objects))
	errs := make([]error, len(objects))
	var reads sync.WaitGroup
	for i, o := range objects {
		reads.Add(1)
		go func() {
			defer reads.Done()
			currents[i], errs[i] = o.get(ctx)
		}()
	}
	reads.Wait()
	for i, o := range objects {
		current, err := currents[i], errs[i]
		switch {
		case apierrors.IsNotFound(err):
			current = nil
		case err != nil:
			return nil, fmt.Errorf("reading %s %s/%s: %w", o.kind, namespace, o.name, err)
		case current.GetLabels()[backendnames.InstanceLabel] != b.VM.Name:
			if o.desired == nil {
				// Not ours, not wanted: left alone.
				continue
			}
			return nil, conflict(b.VM.Name, fmt.Errorf("%s %s/%s already exists and is not managed by vm-apiserver: delete or rename it, or choose another VMInstance name", o.kind, namespace, o.name))
		}
		step := &ownedStep{object: o, before: current}
		if step.changes(owner) {
			steps = append(steps, step)
		}
	}
	return steps, nil
}

// writeOwned carries out the steps for vm, all at once: they write
// different objects, and a failed one leaves the others to the rollback,
// which undoes those done. A write is never cancelled half-way, so that done
// says exactly what was written.
func writeOwned(ctx context.Context, vm *kubevirtv1.VirtualMachine, steps []*ownedStep, dryRun []string) error {
	owner := ownerReference(vm)
	failures := make([]error, len(steps))
	var writes sync.WaitGroup
	for i, s := range steps {
		writes.Add(1)
		go func() {
			defer writes.Done()
			o := s.object
			var err error
			switch {
			case s.before == nil:
				obj := o.merge(o.desired, owner)
				obj.SetResourceVersion("")
				s.after, err = o.create(ctx, obj, dryRun)
			case o.desired == nil:
				err = o.delete(ctx, s.before, dryRun)
			default:
				s.after, err = o.update(ctx, o.merge(s.before, owner), dryRun)
			}
			if err != nil {
				failures[i] = &ownedWriteFailure{object: o, err: err}
				return
			}
			s.done = true
		}()
	}
	writes.Wait()
	for _, err := range failures {
		if err != nil {
			return err
		}
	}
	return nil
}

// ownedVersions is the record of the owned objects' versions after steps
// were written over the record of earlier writes (OwnedVersionsAnnotation).
func ownedVersions(earlier *metav1.ObjectMeta, steps []*ownedStep) projection.OwnedVersions {
	versions := projection.OwnedVersionsOf(earlier)
	for _, s := range steps {
		key := projection.OwnedKey(s.object.kind, s.object.name)
		switch {
		case s.after == nil:
			versions[key] = ""
		case s.after.GetResourceVersion() != "":
			versions[key] = s.after.GetResourceVersion()
		default:
			// Nothing to compare with: the cache's copy will do.
			delete(versions, key)
		}
	}
	return versions
}

// ownedWriteFailure is the write of one owned object that failed.
type ownedWriteFailure struct {
	object ownedObject
	err    error
}

func (f *ownedWriteFailure) Error() string {
	return fmt.Sprintf("writing %s %s: %v", f.object.kind, f.object.name, f.err)
}

// rollBackOwned puts the owned objects a failed write changed back as they
// were, newest first. It reports what it could not restore.
func rollBackOwned(ctx context.Context, steps []*ownedStep) []error {
	var failed []error
	for i := len(steps) - 1; i >= 0; i-- {
		s := steps[i]
		if !s.done {
			continue
		}
		o := s.object
		now, err := o.get(ctx)
		switch {
		case apierrors.IsNotFound(err) && s.before != nil:
			restored := copyOf(s.before)
			restored.SetResourceVersion("")
			restored.SetUID("")
			restored.SetCreationTimestamp(metav1.Time{})
			restored.SetManagedFields(nil)
			_, err = o.create(ctx, restored, nil)
		case apierrors.IsNotFound(err):
			err = nil
		case err != nil:
		case s.before == nil:
			err = o.delete(ctx, now, nil)
		default:
			restored := copyOf(s.before)
			restored.SetResourceVersion(now.GetResourceVersion())
			_, err = o.update(ctx, restored, nil)
		}
		if err != nil && !apierrors.IsNotFound(err) {
			failed = append(failed, fmt.Errorf("%s %s: %w", o.kind, o.name, err))
		}
	}
	return failed
}

func ownerReference(vm *kubevirtv1.VirtualMachine) metav1.OwnerReference {
	uid := vm.UID
	if uid == "" {
		// A dry-run create returns no uid; the reference only needs one to
		// pass validation.
		uid = types.UID("dry-run")
	}
	return metav1.OwnerReference{
		APIVersion: kubevirtv1.SchemeGroupVersion.String(), Kind: "VirtualMachine",
		Name: vm.Name, UID: uid, Controller: ptr.To(true),
	}
}

func copyOf(obj metav1.Object) metav1.Object {
	return obj.(runtime.Object).DeepCopyObject().(metav1.Object)
}
