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

package backendstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
)

// Create validates a new public object and writes its backend objects.
func (s *Store[B, L]) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, opts *metav1.CreateOptions) (runtime.Object, error) {
	objMeta, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	rest.FillObjectMetaSystemFields(objMeta)
	if objMeta.GetGenerateName() != "" && objMeta.GetName() == "" {
		objMeta.SetName(s.Strategy.GenerateName(objMeta.GetGenerateName()))
	}
	if err := rest.BeforeCreate(s.Strategy, ctx, obj); err != nil {
		return nil, err
	}
	if createValidation != nil {
		if err := createValidation(ctx, obj.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	if err := s.requireBackend(); err != nil {
		return nil, err
	}
	primary, err := s.Adapter.Create(ctx, obj, opts)
	if err != nil {
		return nil, rest.CheckGeneratedNameError(ctx, s.Strategy, s.publicError(err, objMeta.GetName()), obj)
	}
	return s.written(ctx, primary, obj, opts.DryRun)
}

// Update applies objInfo to the current public object and writes the
// result. A resourceVersion in the update must be the current one (409
// otherwise); an update without one applies to whatever is current.
//
// Like kube-apiserver's GuaranteedUpdate, a write that lost a race with
// another writer of the primary object (KubeVirt's controllers write a VM's
// status many times while it starts) is tried again on the new object: a
// patch or apply then succeeds, while an update carrying a resourceVersion
// becomes a 409 once that version is stale.
func (s *Store[B, L]) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, opts *metav1.UpdateOptions) (runtime.Object, bool, error) {
	for attempt := 1; ; attempt++ {
		out, created, err := s.updateOnce(ctx, name, objInfo, createValidation, updateValidation, forceAllowCreate, opts)
		var race *lostRace
		if errors.As(err, &race) {
			if attempt < maxUpdateAttempts {
				continue
			}
			return nil, false, race.err
		}
		return out, created, err
	}
}

// lostRace is a conflict of the primary object's write with another
// writer: Update tries again.
type lostRace struct{ err error }

func (r *lostRace) Error() string { return r.err.Error() }

// maxUpdateAttempts bounds the retries of a write that keeps losing races,
// which kube-apiserver does not; a client still gets the 409.
const maxUpdateAttempts = 20

func (s *Store[B, L]) updateOnce(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, opts *metav1.UpdateOptions) (runtime.Object, bool, error) {
	if err := s.requireBackend(); err != nil {
		return nil, false, err
	}
	current, err := s.getPrimary(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && (forceAllowCreate || s.Strategy.AllowCreateOnUpdate(ctx)) {
		return s.createOnUpdate(ctx, name, objInfo, createValidation, opts)
	}
	if err != nil {
		return nil, false, err
	}
	old, err := s.toPublic(ctx, current)
	if err != nil {
		return nil, false, err
	}
	obj, err := objInfo.UpdatedObject(ctx, old)
	if err != nil {
		return nil, false, err
	}
	objMeta, err := meta.Accessor(obj)
	if err != nil {
		return nil, false, err
	}
	oldMeta, err := meta.Accessor(old)
	if err != nil {
		return nil, false, err
	}
	// The public resourceVersion is the primary object's, unless an Adapter
	// makes it another (the test fixture does); the primary object is
	// written with its own, so that a change to it since it was read is
	// still a conflict.
	if rv := objMeta.GetResourceVersion(); rv != "" && rv != oldMeta.GetResourceVersion() {
		return nil, false, apierrors.NewConflict(s.PublicGroupResource, name, errors.New(registryConflictMessage))
	}
	objMeta.SetResourceVersion(current.GetResourceVersion())
	if err := rest.BeforeUpdate(s.Strategy, ctx, obj, old); err != nil {
		return nil, false, err
	}
	if updateValidation != nil {
		if err := updateValidation(ctx, obj.DeepCopyObject(), old.DeepCopyObject()); err != nil {
			return nil, false, err
		}
	}
	primary, err := s.Adapter.Update(ctx, obj, current, opts)
	if err != nil {
		err = s.publicError(err, name)
		if apierrors.IsConflict(err) && strings.Contains(err.Error(), registryConflictMessage) {
			return nil, false, &lostRace{err: err}
		}
		return nil, false, err
	}
	out, err := s.written(ctx, primary, obj, opts.DryRun)
	return out, false, err
}

// registryConflictMessage is kube-apiserver's own wording for a stale write.
const registryConflictMessage = "the object has been modified; please apply your changes to the latest version and try again"

func (s *Store[B, L]) createOnUpdate(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, opts *metav1.UpdateOptions) (runtime.Object, bool, error) {
	obj, err := objInfo.UpdatedObject(ctx, nil)
	if err != nil {
		return nil, false, err
	}
	objMeta, err := meta.Accessor(obj)
	if err != nil {
		return nil, false, err
	}
	if objMeta.GetName() != name {
		return nil, false, apierrors.NewBadRequest("the name of the object does not match the name in the URL")
	}
	objMeta.SetResourceVersion("")
	out, err := s.Create(ctx, obj, createValidation, &metav1.CreateOptions{
		DryRun:          opts.DryRun,
		FieldManager:    opts.FieldManager,
		FieldValidation: opts.FieldValidation,
	})
	return out, err == nil, err
}

// Delete deletes the primary backend object; owner references take the
// other backend objects with it. Preconditions, propagation policy and
// dry-run are the backend's to apply.
func (s *Store[B, L]) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	if err := s.requireBackend(); err != nil {
		return nil, false, err
	}
	current, err := s.getPrimary(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, false, err
	}
	obj, err := s.toPublic(ctx, current)
	if err != nil {
		return nil, false, err
	}
	if _, _, err := rest.BeforeDelete(s.Strategy, ctx, obj, options); err != nil {
		return nil, false, err
	}
	if err := s.Adapter.CheckDelete(ctx, current); err != nil {
		return nil, false, err
	}
	if deleteValidation != nil {
		if err := deleteValidation(ctx, obj); err != nil {
			return nil, false, err
		}
	}
	backendOpts := s.backendDeleteOptions(options, current)
	client := s.Adapter.Client(genericapirequest.NamespaceValue(ctx))
	if err := client.Delete(ctx, name, backendOpts); err != nil {
		return nil, false, s.publicError(err, name)
	}
	if len(options.DryRun) > 0 {
		return obj, true, nil
	}
	if f, ok := s.Adapter.(DeleteFollower[B]); ok {
		f.AfterDelete(ctx, current, backendOpts)
	}
	// Finalizers keep the object until their owners are done: report it as
	// it is now, still present, like kube-apiserver does.
	if remaining, err := client.Get(ctx, name, metav1.GetOptions{}); err == nil && remaining.GetUID() == current.GetUID() {
		if out, err := s.toPublic(ctx, remaining); err == nil {
			return out, false, nil
		}
	}
	return obj, true, nil
}

// backendDeleteOptions are the caller's delete options for the primary
// object, with preconditions that delete exactly the object validated.
// rest.BeforeDelete has checked the caller's preconditions against the
// public object; a resourceVersion precondition, the public object's, becomes
// the primary object's own, so that a change since the check still fails it.
func (s *Store[B, L]) backendDeleteOptions(options *metav1.DeleteOptions, current B) metav1.DeleteOptions {
	out := *options
	uid := current.GetUID()
	preconditions := metav1.Preconditions{UID: &uid}
	if p := options.Preconditions; p != nil && p.ResourceVersion != nil {
		rv := current.GetResourceVersion()
		preconditions.ResourceVersion = &rv
	}
	out.Preconditions = &preconditions
	return out
}

// DeleteCollection deletes every listed object, as the namespace controller
// and `kubectl delete --all` expect.
func (s *Store[B, L]) DeleteCollection(ctx context.Context, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions, listOptions *metainternalversion.ListOptions) (runtime.Object, error) {
	listed, err := s.List(ctx, listOptions)
	if err != nil {
		return nil, err
	}
	items, err := meta.ExtractList(listed)
	if err != nil {
		return nil, err
	}
	deleted := make([]runtime.Object, 0, len(items))
	for _, item := range items {
		itemMeta, err := meta.Accessor(item)
		if err != nil {
			return nil, err
		}
		opts := options.DeepCopy()
		opts.Preconditions = nil
		obj, _, err := s.Delete(ctx, itemMeta.GetName(), deleteValidation, opts)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		deleted = append(deleted, obj)
	}
	out := s.NewListFunc()
	return out, meta.SetList(out, deleted)
}

// written is the public object a write answers: read back, or for a dry
// run, what the write would have stored.
func (s *Store[B, L]) written(ctx context.Context, primary B, obj runtime.Object, dryRun []string) (runtime.Object, error) {
	if p, ok := s.Adapter.(DryRunProjector[B]); ok && len(dryRun) > 0 {
		out, err := p.ProjectDryRun(ctx, primary, obj)
		if err != nil {
			return nil, apierrors.NewInternalError(fmt.Errorf("%s %s/%s cannot be read: %w", s.Kind, primary.GetNamespace(), primary.GetName(), err))
		}
		return out, nil
	}
	return s.toPublic(ctx, primary)
}
