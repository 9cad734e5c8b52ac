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

package vmdisk

import (
	"context"

	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/klog/v2"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/backend"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
	"github.com/cozystack/vm-apiserver/pkg/controller/diskprotection"
	"github.com/cozystack/vm-apiserver/pkg/projection"
	"github.com/cozystack/vm-apiserver/pkg/registry/backendstore"
)

// DataVolumes is the backend resource of VMDisks.
var DataVolumes = schema.GroupVersionResource{Group: "cdi.kubevirt.io", Version: "v1beta1", Resource: "datavolumes"}

// Store is the REST storage of VMDisks.
type Store = backendstore.Store[*cdiv1.DataVolume, *cdiv1.DataVolumeList]

// NewREST returns the VMDisk storage over DataVolumes; attachments tell
// which VMInstances use each disk.
func NewREST(clients backend.Clients, attachments Attachments, availability *backend.Availability, typer runtime.ObjectTyper) *Store {
	return &Store{
		Adapter:             dataVolumes{Clients: clients, attachments: attachments},
		PublicGroupResource: apps.Resource("vmdisks"),
		SingularName:        "vmdisk",
		Kind:                backendnames.VMDiskKind,
		BackendGVR:          DataVolumes,
		BackendProvider:     "CDI",
		Availability:        availability,
		FieldSet:            fieldSet,
		NewFunc:             func() runtime.Object { return &apps.VMDisk{} },
		NewListFunc:         func() runtime.Object { return &apps.VMDiskList{} },
		Strategy:            newStrategy(typer),
		TableConvertor:      tableConvertor{},
		ShortNamesList:      []string{"vmd"},
		CategoryList:        []string{"all", "vmapps"},
	}
}

// Attachments know, from memory, which VMInstances attach each VMDisk
// (the disk protection controller's informer).
type Attachments interface {
	// HasSynced tells whether Users knows every VMInstance.
	HasSynced() bool
	// Users are the names of the VMInstances that attach the VMDisk
	// namespace/disk.
	Users(namespace, disk string) []string
}

// dataVolumes reads and writes the DataVolume of each VMDisk.
type dataVolumes struct {
	backend.Clients
	attachments Attachments
}

func (d dataVolumes) Client(namespace string) backendstore.Client[*cdiv1.DataVolume, *cdiv1.DataVolumeList] {
	return d.CDI.CdiV1beta1().DataVolumes(namespace)
}

func (dataVolumes) Items(list *cdiv1.DataVolumeList) []*cdiv1.DataVolume {
	return backendstore.Pointers(list.Items)
}

// Reads show status.usedBy as the DataVolume records it (the disk
// protection controller keeps the record, so that its changes move the
// DataVolume's resourceVersion and reach watches). A DataVolume without a
// record yet shows it as the attachments informer has it, a status field
// milliseconds behind like the VMIs a VMInstance shows; until the informer
// has synced, from the VMs in kube-apiserver's watch cache
// (resourceVersion "0"): a consistent list waits for etcd's progress, up to
// 100 ms after any write in the cluster. Deleting a disk, which decides on
// usedBy, reads consistently.
const displayUsersResourceVersion = "0"

func (d dataVolumes) ToPublic(ctx context.Context, dv *cdiv1.DataVolume) (runtime.Object, error) {
	usersOf, err := d.usersOf(ctx, dv.Namespace)
	if err != nil {
		return nil, err
	}
	return diskWithUsers(dv, usersOf(dv))
}

func (d dataVolumes) ToPublicList(ctx context.Context, namespace string, dvs []*cdiv1.DataVolume) ([]runtime.Object, error) {
	usersOf, err := d.usersOf(ctx, namespace)
	if err != nil {
		return nil, err
	}
	out := make([]runtime.Object, len(dvs))
	for i, dv := range dvs {
		disk, err := diskWithUsers(dv, usersOf(dv))
		if err != nil {
			klog.ErrorS(err, "Skipping DataVolume that is not a readable VMDisk", "namespace", dv.Namespace, "name", dv.Name)
			continue
		}
		out[i] = disk
	}
	return out, nil
}

// usersOf tells the usedBy of the disks in namespace ("" for all).
func (d dataVolumes) usersOf(ctx context.Context, namespace string) (func(*cdiv1.DataVolume) []string, error) {
	if d.attachments.HasSynced() {
		return recordedOr(func(dv *cdiv1.DataVolume) []string { return d.attachments.Users(dv.Namespace, dv.Name) }), nil
	}
	users, err := diskprotection.ListAttachments(ctx, d.Clients, namespace, displayUsersResourceVersion)
	if err != nil {
		return nil, err
	}
	return recordedOr(func(dv *cdiv1.DataVolume) []string { return users[dv.Namespace+"/"+dv.Name] }), nil
}

// recordedOr is the usedBy a DataVolume records, or unrecorded's.
func recordedOr(unrecorded func(*cdiv1.DataVolume) []string) func(*cdiv1.DataVolume) []string {
	return func(dv *cdiv1.DataVolume) []string {
		if users, ok := projection.UsedByOf(&dv.ObjectMeta); ok {
			return users
		}
		return unrecorded(dv)
	}
}

// CheckDelete allows deleting a disk in use: its in-use protection
// finalizer keeps it (Terminating) until no VMInstance attaches it. Only a
// disk made before that finalizer existed, which the disk protection
// controller has not reached yet, is refused while attached.
func (d dataVolumes) CheckDelete(ctx context.Context, dv *cdiv1.DataVolume) error {
	if projection.HasFinalizer(dv.Finalizers, backendnames.InUseProtectionFinalizer) {
		return nil
	}
	users, err := diskprotection.ListAttachments(ctx, d.Clients, dv.Namespace, "")
	if err != nil {
		return err
	}
	if names := users[dv.Namespace+"/"+dv.Name]; len(names) > 0 {
		return apierrors.NewConflict(apps.Resource("vmdisks"), dv.Name,
			fmt.Errorf("the disk is attached to VMInstance %s and not protected yet; try again in a moment or detach it first", strings.Join(names, ", ")))
	}
	return nil
}

func diskWithUsers(dv *cdiv1.DataVolume, users []string) (*apps.VMDisk, error) {
	disk, err := projection.VMDiskFrom(dv)
	if err != nil {
		return nil, backendstore.NotProjectable(err)
	}
	disk.Status.UsedBy = users
	if c := projection.InUseCondition(dv, disk.Status.UsedBy); c != nil {
		disk.Status.Conditions = append(disk.Status.Conditions, *c)
	}
	return disk, nil
}

func (d dataVolumes) Create(ctx context.Context, obj runtime.Object, opts *metav1.CreateOptions) (*cdiv1.DataVolume, error) {
	dv, err := projection.DataVolumeFor(obj.(*apps.VMDisk), nil)
	if err != nil {
		return nil, err
	}
	if err := d.authorizeClone(ctx, dv); err != nil {
		return nil, err
	}
	if err := d.checkNotAnInlineDisk(ctx, dv.Namespace, dv.Name); err != nil {
		return nil, err
	}
	secrets := projection.SecretsFor(obj.(*apps.VMDisk))
	if len(secrets) == 0 {
		return d.CDI.CdiV1beta1().DataVolumes(dv.Namespace).Create(ctx, dv, metav1.CreateOptions{DryRun: opts.DryRun})
	}
	return d.createWithSecrets(ctx, dv, secrets, opts.DryRun)
}

// removeHalfMade deletes what a failed create wrote (dv may be nil).
func (d dataVolumes) removeHalfMade(dv *cdiv1.DataVolume, secrets []*corev1.Secret) {
	ctx := context.Background()
	if dv != nil {
		uid := dv.UID
		if err := d.CDI.CdiV1beta1().DataVolumes(dv.Namespace).Delete(ctx, dv.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}); err != nil && !apierrors.IsNotFound(err) {
			klog.ErrorS(err, "Could not remove the DataVolume of a failed create", "namespace", dv.Namespace, "name", dv.Name)
		}
	}
	for _, secret := range secrets {
		uid := secret.UID
		if err := d.Kube.CoreV1().Secrets(secret.Namespace).Delete(ctx, secret.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}); err != nil && !apierrors.IsNotFound(err) {
			klog.ErrorS(err, "Could not remove a credentials Secret of a failed create", "namespace", secret.Namespace, "name", secret.Name)
		}
	}
}

// createWithSecrets writes the credentials' Secrets (headers, URL userinfo)
// before the DataVolume that reads them, then makes the DataVolume their
// owner; a failed write removes what was written. A Secret name that is
// taken is a 409 before the DataVolume is written.
func (d dataVolumes) createWithSecrets(ctx context.Context, dv *cdiv1.DataVolume, secrets []*corev1.Secret, dryRun []string) (*cdiv1.DataVolume, error) {
	client := d.Kube.CoreV1().Secrets(dv.Namespace)
	var created []*corev1.Secret
	for _, secret := range secrets {
		out, err := client.Create(ctx, secret, metav1.CreateOptions{DryRun: dryRun})
		if err == nil {
			created = append(created, out)
			continue
		}
		if len(dryRun) == 0 {
			d.removeHalfMade(nil, created)
		}
		if apierrors.IsAlreadyExists(err) {
			return nil, apierrors.NewConflict(apps.Resource("vmdisks"), dv.Name, fmt.Errorf("Secret %s/%s already exists", dv.Namespace, secret.Name))
		}
		return nil, err
	}
	out, err := d.CDI.CdiV1beta1().DataVolumes(dv.Namespace).Create(ctx, dv, metav1.CreateOptions{DryRun: dryRun})
	if err != nil {
		if len(dryRun) == 0 {
			d.removeHalfMade(nil, created)
		}
		return nil, err
	}
	if len(dryRun) > 0 {
		return out, nil
	}
	for _, secret := range created {
		secret.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: cdiv1.SchemeGroupVersion.String(), Kind: "DataVolume", Name: out.Name, UID: out.UID, Controller: ptr.To(true),
		}}
		if _, err := client.Update(ctx, secret, metav1.UpdateOptions{}); err != nil {
			d.removeHalfMade(out, created)
			return nil, err
		}
	}
	return out, nil
}

func (d dataVolumes) Update(ctx context.Context, obj runtime.Object, current *cdiv1.DataVolume, opts *metav1.UpdateOptions) (*cdiv1.DataVolume, error) {
	dv, err := projection.DataVolumeFor(obj.(*apps.VMDisk), current)
	if err != nil {
		return nil, err
	}
	if projection.Grows(current, dv) {
		return d.updateGrowing(ctx, dv, current, opts.DryRun)
	}
	return d.CDI.CdiV1beta1().DataVolumes(dv.Namespace).Update(ctx, dv, metav1.UpdateOptions{DryRun: opts.DryRun})
}
