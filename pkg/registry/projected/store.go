package projected

import (
	"context"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/cozystack/vm-apiserver/pkg/backend"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
)

// Strategy is the create, update and delete behaviour of a resource.
type Strategy interface {
	rest.RESTCreateStrategy
	rest.RESTUpdateStrategy
	rest.RESTDeleteStrategy
}

// Store serves one public resource over its primary backend kind.
type Store[B BackendObject, L runtime.Object] struct {
	// Resource is the resource-specific part.
	Resource Resource[B, L]
	// PublicResource names the public resource, for errors.
	PublicResource schema.GroupResource
	// SingularName is the public resource's singular name.
	SingularName string
	// Kind is the public kind; backend objects carry it in backendnames.KindLabel.
	Kind string
	// BackendResource is the primary backend resource, checked for before
	// every request; BackendProvider names what installs it.
	BackendResource schema.GroupVersionResource
	BackendProvider string
	// Availability tells whether BackendResource is served.
	Availability *backend.Availability
	// Clients are the server's backend clients; their watch options apply
	// to the primary watch.
	Clients backend.Clients
	// FieldSet gives the fields a public object can be selected by.
	FieldSet func(runtime.Object) fields.Set
	// PublicField, if set, names the public field a backend field (as an
	// admission webhook's refusal names it) is written from.
	PublicField func(backendField string) string

	NewFunc     func() runtime.Object
	NewListFunc func() runtime.Object
	Strategy    Strategy
	rest.TableConvertor
	ShortNamesList []string
	CategoryList   []string
}

var (
	_ rest.StandardStorage      = &Store[BackendObject, runtime.Object]{}
	_ rest.Scoper               = &Store[BackendObject, runtime.Object]{}
	_ rest.SingularNameProvider = &Store[BackendObject, runtime.Object]{}
	_ rest.ShortNamesProvider   = &Store[BackendObject, runtime.Object]{}
	_ rest.CategoriesProvider   = &Store[BackendObject, runtime.Object]{}
)

// New returns an empty public object.
func (s *Store[B, L]) New() runtime.Object { return s.NewFunc() }

// NewList returns an empty public list.
func (s *Store[B, L]) NewList() runtime.Object { return s.NewListFunc() }

// Destroy releases nothing: the store holds no resources of its own.
func (s *Store[B, L]) Destroy() {}

// NamespaceScoped is true: every public kind is namespaced.
func (s *Store[B, L]) NamespaceScoped() bool { return true }

// GetSingularName returns the singular resource name.
func (s *Store[B, L]) GetSingularName() string { return s.SingularName }

// ShortNames returns the short names kubectl accepts.
func (s *Store[B, L]) ShortNames() []string { return s.ShortNamesList }

// Categories returns the categories the resource belongs to.
func (s *Store[B, L]) Categories() []string { return s.CategoryList }

// Get reads the public object from its primary backend object.
func (s *Store[B, L]) Get(ctx context.Context, name string, opts *metav1.GetOptions) (runtime.Object, error) {
	if err := s.requireBackend(); err != nil {
		return nil, err
	}
	primary, err := s.getPrimary(ctx, name, *opts)
	if err != nil {
		return nil, err
	}
	return s.toPublic(ctx, primary)
}

// List lists the primary backend objects that carry the kind label, with
// the caller's selectors, paging and resourceVersion passed through.
func (s *Store[B, L]) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	if err := s.requireBackend(); err != nil {
		return nil, err
	}
	backendOpts, err := s.backendListOptions(options)
	if err != nil {
		return nil, err
	}
	list, err := s.Resource.Client(genericapirequest.NamespaceValue(ctx)).List(ctx, backendOpts)
	if err != nil {
		return nil, s.publicError(err, "")
	}
	projected, err := s.Resource.ToPublicList(ctx, genericapirequest.NamespaceValue(ctx), s.Resource.Items(list))
	if err != nil {
		return nil, s.publicError(err, "")
	}
	items := make([]runtime.Object, 0, len(projected))
	for _, obj := range projected {
		// One unreadable object must not hide the others. A page may end up
		// shorter than the limit, which the API allows.
		if obj != nil && s.matchesFields(options, obj) {
			items = append(items, obj)
		}
	}
	out := s.NewListFunc()
	if err := meta.SetList(out, items); err != nil {
		return nil, err
	}
	backendMeta, err := meta.ListAccessor(list)
	if err != nil {
		return nil, err
	}
	outMeta, err := meta.ListAccessor(out)
	if err != nil {
		return nil, err
	}
	outMeta.SetResourceVersion(backendMeta.GetResourceVersion())
	outMeta.SetContinue(backendMeta.GetContinue())
	outMeta.SetRemainingItemCount(backendMeta.GetRemainingItemCount())
	return out, nil
}

// Watch watches the primary backend objects and translates every event.
func (s *Store[B, L]) Watch(ctx context.Context, options *metainternalversion.ListOptions) (watch.Interface, error) {
	if options == nil {
		options = &metainternalversion.ListOptions{}
	}
	if err := s.requireBackend(); err != nil {
		return nil, err
	}
	backendOpts, err := s.backendListOptions(options)
	if err != nil {
		return nil, err
	}
	matched, err := s.matchedAtStart(ctx, options, backendOpts)
	if err != nil {
		return nil, err
	}
	client := s.Resource.Client(genericapirequest.NamespaceValue(ctx))
	if backendOpts.ResourceVersion == "" {
		// "From now" must become a resourceVersion that the watch can
		// resume from after kube-apiserver ends it.
		now, err := client.List(ctx, metav1.ListOptions{LabelSelector: backendOpts.LabelSelector, Limit: 1})
		if err != nil {
			return nil, s.publicError(err, "")
		}
		backendOpts.ResourceVersion, err = listResourceVersion(now)
		if err != nil {
			return nil, err
		}
	}
	// The public watch ends on its own timer (the generic server applies the
	// client's timeoutSeconds); the backend one on the server's.
	backendOpts = s.Clients.WatchOptions(backendOpts)
	callerBookmarks := backendOpts.AllowWatchBookmarks
	backendOpts.AllowWatchBookmarks = true
	w, err := client.Watch(ctx, backendOpts)
	if err != nil {
		return nil, s.publicError(err, "")
	}
	watchCtx, cancel := context.WithCancel(ctx)
	joined, from, err := s.Resource.WatchJoined(watchCtx, genericapirequest.NamespaceValue(ctx), backendOpts.ResourceVersion)
	if err != nil {
		cancel()
		w.Stop()
		// The server's own access to the joined kinds failed, not the
		// caller's: not a 403 for them.
		return nil, apierrors.NewInternalError(fmt.Errorf("watching the objects %s projections read: %w", s.Kind, err))
	}
	known := newKnownObjects(from)
	if backendOpts.ResourceVersion == "0" || (options.SendInitialEvents != nil && *options.SendInitialEvents) {
		// The watch itself introduces every object with ADDED.
		known = newKnownObjects("0")
	}
	primary := make(chan watch.Event)
	go func() {
		defer close(primary)
		RunResuming(watchCtx, s.BackendResource.Resource, client.Watch, w, backendOpts, callerBookmarks, primary)
	}()
	return newTranslatingWatch(watchCtx, cancel, primary, joined, s, options, matched, known), nil
}

func listResourceVersion(list runtime.Object) (string, error) {
	m, err := meta.ListAccessor(list)
	if err != nil {
		return "", err
	}
	return m.GetResourceVersion(), nil
}

// matchedAtStart lists which objects match a projected field selector where
// the watch starts, so that one that stops matching is sent as DELETED to
// a client that listed it. A watch that replays initial events learns
// that from them instead.
func (s *Store[B, L]) matchedAtStart(ctx context.Context, options *metainternalversion.ListOptions, backendOpts metav1.ListOptions) (map[types.UID]bool, error) {
	matched := map[types.UID]bool{}
	if _, rest := splitFieldSelector(options.FieldSelector); !rest || (options.SendInitialEvents != nil && *options.SendInitialEvents) {
		return matched, nil
	}
	listOpts := metav1.ListOptions{LabelSelector: backendOpts.LabelSelector, FieldSelector: backendOpts.FieldSelector, ResourceVersion: backendOpts.ResourceVersion}
	if rv := backendOpts.ResourceVersion; rv != "" && rv != "0" {
		listOpts.ResourceVersionMatch = metav1.ResourceVersionMatchExact
	}
	list, err := s.Resource.Client(genericapirequest.NamespaceValue(ctx)).List(ctx, listOpts)
	if err != nil {
		return nil, s.publicError(err, "")
	}
	projected, err := s.Resource.ToPublicList(ctx, genericapirequest.NamespaceValue(ctx), s.Resource.Items(list))
	if err != nil {
		return nil, s.publicError(err, "")
	}
	for _, obj := range projected {
		if obj == nil || !s.matchesFields(options, obj) {
			continue
		}
		if m, err := meta.Accessor(obj); err == nil {
			matched[m.GetUID()] = true
		}
	}
	return matched, nil
}

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
	primary, err := s.Resource.Create(ctx, obj, opts)
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
	// The public resourceVersion may be a joined object's (the newest); the
	// primary object is written with its own, so that a change to it since
	// it was read is still a conflict.
	if rv := objMeta.GetResourceVersion(); rv != "" && rv != oldMeta.GetResourceVersion() {
		return nil, false, apierrors.NewConflict(s.PublicResource, name, errors.New(registryConflictMessage))
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
	primary, err := s.Resource.Update(ctx, obj, current, opts)
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
	if err := s.Resource.CheckDelete(ctx, current); err != nil {
		return nil, false, err
	}
	if deleteValidation != nil {
		if err := deleteValidation(ctx, obj); err != nil {
			return nil, false, err
		}
	}
	backendOpts := s.backendDeleteOptions(options, current)
	client := s.Resource.Client(genericapirequest.NamespaceValue(ctx))
	if err := client.Delete(ctx, name, backendOpts); err != nil {
		return nil, false, s.publicError(err, name)
	}
	if len(options.DryRun) > 0 {
		return obj, true, nil
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
// public object; a resourceVersion precondition, the public object's (which
// may be a joined object's), becomes the primary object's own.
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

func (s *Store[B, L]) requireBackend() error {
	return s.Availability.Require(s.BackendResource, s.BackendProvider)
}

// getPrimary reads the primary backend object; one without the kind label
// is not a public object and reads as not found.
func (s *Store[B, L]) getPrimary(ctx context.Context, name string, opts metav1.GetOptions) (B, error) {
	var zero B
	primary, err := s.Resource.Client(genericapirequest.NamespaceValue(ctx)).Get(ctx, name, opts)
	if err != nil {
		return zero, s.publicError(err, name)
	}
	if !backendnames.HasKind(primary.GetLabels(), s.Kind) {
		return zero, apierrors.NewNotFound(s.PublicResource, name)
	}
	return primary, nil
}

// written is the public object a write answers: read back, or for a dry
// run, what the write would have stored.
func (s *Store[B, L]) written(ctx context.Context, primary B, obj runtime.Object, dryRun []string) (runtime.Object, error) {
	if p, ok := s.Resource.(DryRunProjector[B]); ok && len(dryRun) > 0 {
		out, err := p.ProjectDryRun(ctx, primary, obj)
		if err != nil {
			return nil, apierrors.NewInternalError(fmt.Errorf("%s %s/%s cannot be read: %w", s.Kind, primary.GetNamespace(), primary.GetName(), err))
		}
		return out, nil
	}
	return s.toPublic(ctx, primary)
}

func (s *Store[B, L]) toPublic(ctx context.Context, primary B) (runtime.Object, error) {
	obj, err := s.Resource.ToPublic(ctx, primary)
	if err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("%s %s/%s cannot be read: %w", s.Kind, primary.GetNamespace(), primary.GetName(), err))
	}
	return obj, nil
}

// backendListOptions passes the caller's options through, restricted to
// backend objects that carry this kind's label.
func (s *Store[B, L]) backendListOptions(options *metainternalversion.ListOptions) (metav1.ListOptions, error) {
	var out metav1.ListOptions
	if options == nil {
		options = &metainternalversion.ListOptions{}
	}
	if err := metainternalversion.Convert_internalversion_ListOptions_To_v1_ListOptions(options, &out, nil); err != nil {
		return out, err
	}
	selector := options.LabelSelector
	if selector == nil {
		selector = labels.Everything()
	}
	kindRequirement, err := labels.NewRequirement(backendnames.KindLabel, selection.Equals, []string{s.Kind})
	if err != nil {
		return out, err
	}
	out.LabelSelector = selector.Add(*kindRequirement).String()
	out.FieldSelector = ""
	if backendFields, _ := splitFieldSelector(options.FieldSelector); backendFields != nil {
		out.FieldSelector = backendFields.String()
	}
	return out, nil
}

// matchesFields applies the part of the field selector the backend could
// not (fields of the projection, such as status.phase).
func (s *Store[B, L]) matchesFields(options *metainternalversion.ListOptions, obj runtime.Object) bool {
	if options == nil {
		return true
	}
	if _, rest := splitFieldSelector(options.FieldSelector); !rest {
		return true
	}
	return options.FieldSelector.Matches(s.FieldSet(obj))
}
