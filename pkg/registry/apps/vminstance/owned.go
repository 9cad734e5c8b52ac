package vminstance

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/projection"
)

// ownedObject is one Service or Secret a VMInstance owns: how to read,
// write and delete it, and the desired version (nil: must not exist).
type ownedObject struct {
	kind    string
	name    string
	desired interface{ GetLabels() map[string]string }
	get     func(ctx context.Context) (metav1.Object, error)
	create  func(ctx context.Context, owner metav1.OwnerReference, dryRun []string) error
	update  func(ctx context.Context, current metav1.Object, dryRun []string) error
	delete  func(ctx context.Context, uid types.UID, dryRun []string) error
}

func (v *virtualMachines) ownedObjects(namespace string, b *projection.VMInstanceBackend) []ownedObject {
	services := v.Kube.CoreV1().Services(namespace)
	secrets := v.Kube.CoreV1().Secrets(namespace)
	objects := []ownedObject{{
		kind: "Service", name: b.VM.Name,
		get: func(ctx context.Context) (metav1.Object, error) {
			return services.Get(ctx, b.VM.Name, metav1.GetOptions{})
		},
		create: func(ctx context.Context, owner metav1.OwnerReference, dryRun []string) error {
			svc := b.Service.DeepCopy()
			svc.OwnerReferences = []metav1.OwnerReference{owner}
			_, err := services.Create(ctx, svc, metav1.CreateOptions{DryRun: dryRun})
			return err
		},
		update: func(ctx context.Context, current metav1.Object, dryRun []string) error {
			svc := current.(*corev1.Service).DeepCopy()
			// Keep what the cluster allocated (cluster IP, node ports).
			nodePorts := map[string]int32{}
			for _, p := range svc.Spec.Ports {
				nodePorts[p.Name] = p.NodePort
			}
			svc.Spec.Type = b.Service.Spec.Type
			svc.Spec.Selector = b.Service.Spec.Selector
			svc.Spec.Ports = b.Service.Spec.DeepCopy().Ports
			for i := range svc.Spec.Ports {
				svc.Spec.Ports[i].NodePort = nodePorts[svc.Spec.Ports[i].Name]
			}
			_, err := services.Update(ctx, svc, metav1.UpdateOptions{DryRun: dryRun})
			return err
		},
		delete: func(ctx context.Context, uid types.UID, dryRun []string) error {
			return services.Delete(ctx, b.VM.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}, DryRun: dryRun})
		},
	}}
	if b.Service != nil {
		objects[0].desired = b.Service
	}
	for _, s := range []struct {
		name    string
		desired *corev1.Secret
	}{
		{projection.CloudInitSecretName(b.VM.Name), b.CloudInit},
		{projection.SSHKeysSecretName(b.VM.Name), b.SSHKeys},
	} {
		o := ownedObject{
			kind: "Secret", name: s.name,
			get: func(ctx context.Context) (metav1.Object, error) { return secrets.Get(ctx, s.name, metav1.GetOptions{}) },
			create: func(ctx context.Context, owner metav1.OwnerReference, dryRun []string) error {
				secret := s.desired.DeepCopy()
				secret.OwnerReferences = []metav1.OwnerReference{owner}
				_, err := secrets.Create(ctx, secret, metav1.CreateOptions{DryRun: dryRun})
				return err
			},
			update: func(ctx context.Context, current metav1.Object, dryRun []string) error {
				secret := current.(*corev1.Secret).DeepCopy()
				secret.Data = s.desired.Data
				secret.Annotations = s.desired.Annotations
				_, err := secrets.Update(ctx, secret, metav1.UpdateOptions{DryRun: dryRun})
				return err
			},
			delete: func(ctx context.Context, uid types.UID, dryRun []string) error {
				return secrets.Delete(ctx, s.name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}, DryRun: dryRun})
			},
		}
		if s.desired != nil {
			o.desired = s.desired
		}
		objects = append(objects, o)
	}
	return objects
}

// checkOwnedNamesFree refuses a create whose Service or Secret names are
// taken by objects vm-apiserver does not manage, before anything is written.
func (v *virtualMachines) checkOwnedNamesFree(ctx context.Context, namespace string, b *projection.VMInstanceBackend) error {
	for _, o := range v.ownedObjects(namespace, b) {
		if o.desired == nil {
			continue
		}
		_, err := o.get(ctx)
		if err == nil {
			return apierrors.NewConflict(apps.Resource("vminstances"), b.VM.Name,
				fmt.Errorf("%s %s/%s already exists and is not managed by vm-apiserver", o.kind, namespace, o.name))
		}
		if !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// reconcileOwned makes the VM's Service and Secrets match b: creates what
// is missing, updates what differs, deletes what is no longer wanted.
// Objects without the VMInstance's label are never touched.
func (v *virtualMachines) reconcileOwned(ctx context.Context, vm *kubevirtv1.VirtualMachine, b *projection.VMInstanceBackend, dryRun []string) error {
	uid := vm.UID
	if uid == "" {
		// A dry-run create returns no uid; the reference only needs one to
		// pass validation.
		uid = types.UID("dry-run")
	}
	owner := metav1.OwnerReference{
		APIVersion: kubevirtv1.SchemeGroupVersion.String(), Kind: "VirtualMachine",
		Name: vm.Name, UID: uid, Controller: ptr.To(true),
	}
	for _, o := range v.ownedObjects(vm.Namespace, b) {
		current, err := o.get(ctx)
		switch {
		case apierrors.IsNotFound(err):
			if o.desired != nil {
				err = o.create(ctx, owner, dryRun)
			} else {
				err = nil
			}
		case err != nil:
		case current.GetLabels()[projection.InstanceLabel] != vm.Name:
			if o.desired != nil {
				err = apierrors.NewConflict(apps.Resource("vminstances"), vm.Name,
					fmt.Errorf("%s %s/%s already exists and is not managed by vm-apiserver", o.kind, vm.Namespace, o.name))
			}
		case o.desired == nil:
			err = o.delete(ctx, current.GetUID(), dryRun)
		default:
			err = o.update(ctx, current, dryRun)
		}
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}
