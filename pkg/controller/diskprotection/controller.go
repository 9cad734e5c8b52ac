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

// Package diskprotection keeps a VMDisk that a VMInstance attaches from
// going away, as Kubernetes' pvc-protection controller keeps a PVC a Pod
// uses. Every VMDisk's DataVolume carries the finalizer
// backendnames.InUseProtectionFinalizer (vm-apiserver adds it on create; this
// controller adds it to DataVolumes made before it existed). Deleting the
// VMDisk then only marks the DataVolume deleted; the controller removes the
// finalizer once no VMInstance's VirtualMachine attaches the disk, and
// kube-apiserver deletes it.
//
// It also records on each VMDisk's DataVolume which VMInstances attach it
// (backendnames.UsedByAnnotation): the VMDisk's status.usedBy, which then
// moves the DataVolume's resourceVersion and reaches VMDisk watches.
package diskprotection

import (
	"context"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	kubevirtv1 "kubevirt.io/api/core/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/cozystack/vm-apiserver/pkg/backend"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
	"github.com/cozystack/vm-apiserver/pkg/projection"
)

// Controller removes the in-use protection finalizer from deleted VMDisk
// DataVolumes that no VMInstance attaches, adds it to live ones that lack
// it, and records on each which VMInstances attach it.
type Controller struct {
	clients   backend.Clients
	queue     workqueue.TypedRateLimitingInterface[string]
	disks     cache.SharedIndexInformer
	instances cache.SharedIndexInformer
	// vmProgress follows how far the VM informer has come.
	vmProgress *backend.Progress
}

// New builds the controller over the backend clients; Run starts it.
func New(clients backend.Clients) *Controller {
	c := &Controller{
		clients: clients,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "disk-protection"}),
	}
	dvs, vms := clients.CDI.CdiV1beta1().DataVolumes(""), clients.KubeVirt.KubevirtV1().VirtualMachines("")
	c.disks = backend.NewInformer(clients.CDI, &cdiv1.DataVolume{}, backendnames.KindSelector(backendnames.VMDiskKind),
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return dvs.List(ctx, o) },
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) { return dvs.Watch(ctx, o) },
		cache.Indexers{}, backend.WithoutManagedFields)
	c.vmProgress = backend.NewProgress()
	c.instances = backend.NewInformer(clients.KubeVirt, &kubevirtv1.VirtualMachine{}, backendnames.KindSelector(backendnames.VMInstanceKind),
		c.vmProgress.Listing(func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return vms.List(ctx, o) }),
		c.vmProgress.Watching(func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) { return vms.Watch(ctx, o) }),
		cache.Indexers{attachedIndex: attachedDisks, cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}, backend.WithoutManagedFields)
	return c
}

// Run works until ctx ends. A missing backend CRD only delays it: the
// informers retry until the CRD appears.
func (c *Controller) Run(ctx context.Context) {
	defer c.queue.ShutDown()
	if _, err := c.disks.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.diskChanged,
		UpdateFunc: func(_, obj interface{}) { c.diskChanged(obj) },
	}); err != nil {
		klog.ErrorS(err, "Cannot protect VMDisks in use")
		return
	}
	if _, err := c.instances.AddEventHandler(c.vmProgress.Handler()); err != nil {
		klog.ErrorS(err, "Cannot follow the VM informer")
		return
	}
	if _, err := c.instances.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.instanceChanged,
		UpdateFunc: func(old, obj interface{}) {
			// A disk the update detached is released; one it attached
			// needs nothing, but enqueueing it is harmless.
			c.instanceChanged(old)
			c.instanceChanged(obj)
		},
		DeleteFunc: c.instanceChanged,
	}); err != nil {
		klog.ErrorS(err, "Cannot protect VMDisks in use")
		return
	}
	go c.disks.RunWithContext(ctx)
	go c.instances.RunWithContext(ctx)
	go c.checkUsersOnceSynced(ctx)
	// Decisions read VMInstances live, so only the disks need to be listed
	// first; without KubeVirt the VM informer would never sync.
	if !cache.WaitForCacheSync(ctx.Done(), c.disks.HasSynced) {
		return
	}
	go func() {
		for c.processNext(ctx) {
		}
	}()
	<-ctx.Done()
}

func (c *Controller) diskChanged(obj interface{}) {
	dv, ok := obj.(*cdiv1.DataVolume)
	if !ok || !needsWork(dv) && !c.usersNeedRecording(dv) {
		return
	}
	c.queue.Add(dv.Namespace + "/" + dv.Name)
}

// checkUsersOnceSynced queues every disk once the VMs are known: their
// attachments may have changed while no replica recorded them.
func (c *Controller) checkUsersOnceSynced(ctx context.Context) {
	if !cache.WaitForCacheSync(ctx.Done(), c.disks.HasSynced, c.instances.HasSynced) {
		return
	}
	for _, key := range c.disks.GetStore().ListKeys() {
		c.queue.Add(key)
	}
}

// usersNeedRecording says whether dv does not record the VMInstances that
// attach it; unknown until every VMInstance is known.
func (c *Controller) usersNeedRecording(dv *cdiv1.DataVolume) bool {
	return c.instances.HasSynced() && !projection.UsedByRecorded(&dv.ObjectMeta, c.cachedUsers(dv))
}

// needsWork says whether dv is deleted and still protected, or live and
// not protected.
func needsWork(dv *cdiv1.DataVolume) bool {
	return projection.HasFinalizer(dv.Finalizers, backendnames.InUseProtectionFinalizer) == (dv.DeletionTimestamp != nil)
}

func (c *Controller) instanceChanged(obj interface{}) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	vm, ok := obj.(*kubevirtv1.VirtualMachine)
	if !ok {
		return
	}
	for _, disk := range projection.AttachedVMDisks(vm) {
		c.queue.Add(vm.Namespace + "/" + disk)
	}
}

func (c *Controller) processNext(ctx context.Context) bool {
	key, shutdown := c.queue.Get()
	if shutdown {
		return false
	}
	defer c.queue.Done(key)
	if err := c.sync(ctx, key); err != nil {
		klog.ErrorS(err, "Protecting a VMDisk in use; will retry", "disk", key)
		c.queue.AddRateLimited(key)
		return true
	}
	c.queue.Forget(key)
	return true
}

// sync brings the finalizer of the DataVolume namespace/name where it
// belongs.
func (c *Controller) sync(ctx context.Context, key string) error {
	obj, exists, err := c.disks.GetStore().GetByKey(key)
	if err != nil || !exists {
		return err
	}
	dv := obj.(*cdiv1.DataVolume)
	if c.usersNeedRecording(dv) {
		if err := c.recordUsers(ctx, dv); err != nil {
			return err
		}
	}
	if !needsWork(dv) {
		return nil
	}
	if dv.DeletionTimestamp == nil {
		return c.protect(ctx, dv)
	}
	// The informer's VMs are enough to keep the finalizer: when they stop
	// attaching the disk, their change brings it back here.
	if users := c.cachedUsers(dv); len(users) > 0 {
		klog.V(4).InfoS("Deleted VMDisk still attached", "disk", key, "vminstances", users)
		return nil
	}
	return c.release(ctx, dv)
}

// recordUsers records on dv the VMInstances that attach it. The finalizer
// decisions that follow read the DataVolume again (a conflict) or the
// informer's copy, which the record does not touch.
func (c *Controller) recordUsers(ctx context.Context, cached *cdiv1.DataVolume) error {
	dv := cached.DeepCopy()
	projection.RecordUsedBy(&dv.ObjectMeta, c.cachedUsers(cached))
	_, err := c.clients.CDI.CdiV1beta1().DataVolumes(dv.Namespace).Update(ctx, dv, metav1.UpdateOptions{})
	// Gone, or a newer version on its way to the informer, which brings
	// the disk back here if it still lacks the record.
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

// protect adds the finalizer to a live DataVolume made before it existed.
func (c *Controller) protect(ctx context.Context, cached *cdiv1.DataVolume) error {
	dv := cached.DeepCopy()
	dv.Finalizers = projection.WithFinalizer(dv.Finalizers, backendnames.InUseProtectionFinalizer, true)
	_, err := c.clients.CDI.CdiV1beta1().DataVolumes(dv.Namespace).Update(ctx, dv, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	// A conflict means a newer version is on its way to the informer,
	// which brings the disk back here if it still needs the finalizer.
	if apierrors.IsConflict(err) {
		return nil
	}
	return err
}

// release removes the finalizer from a deleted DataVolume once a
// consistent read of the VMs shows that none attaches it.
func (c *Controller) release(ctx context.Context, cached *cdiv1.DataVolume) error {
	client := c.clients.CDI.CdiV1beta1().DataVolumes(cached.Namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		dv, err := client.Get(ctx, cached.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if dv.UID != cached.UID || !needsWork(dv) || dv.DeletionTimestamp == nil {
			return nil
		}
		users, err := ListAttachments(ctx, c.clients, dv.Namespace, "")
		if err != nil {
			return err
		}
		if len(users[dv.Namespace+"/"+dv.Name]) > 0 {
			// The informer has not seen these VMs yet; their events
			// bring the disk back here.
			return nil
		}
		dv.Finalizers = projection.WithFinalizer(dv.Finalizers, backendnames.InUseProtectionFinalizer, false)
		_, err = client.Update(ctx, dv, metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err == nil {
			klog.V(2).InfoS("Released deleted VMDisk no VMInstance attaches", "namespace", dv.Namespace, "name", dv.Name)
		}
		return err
	})
}

// cachedUsers are the VMInstances the informer knows to attach dv.
func (c *Controller) cachedUsers(dv *cdiv1.DataVolume) []string {
	return c.Users(dv.Namespace, dv.Name)
}

// attachedIndex indexes VMs by the "namespace/disk" of each VMDisk they
// attach.
const attachedIndex = "attached-vmdisk"

func attachedDisks(obj any) ([]string, error) {
	vm, ok := obj.(*kubevirtv1.VirtualMachine)
	if !ok {
		return nil, nil
	}
	var keys []string
	for _, disk := range projection.AttachedVMDisks(vm) {
		keys = append(keys, vm.Namespace+"/"+disk)
	}
	return keys, nil
}

// HasSynced tells whether Users knows every VMInstance (it never does
// without KubeVirt installed).
func (c *Controller) HasSynced() bool { return c.instances.HasSynced() }

// Users are the VMInstances that attach the VMDisk namespace/disk, by
// name, as the informer has them: a VMDisk's status.usedBy.
func (c *Controller) Users(namespace, disk string) []string {
	objs, err := c.instances.GetIndexer().ByIndex(attachedIndex, namespace+"/"+disk)
	if err != nil {
		return nil
	}
	users := make([]string, 0, len(objs))
	for _, obj := range objs {
		users = append(users, obj.(*kubevirtv1.VirtualMachine).Name)
	}
	sort.Strings(users)
	if len(users) == 0 {
		return nil
	}
	return users
}

// The VM informer holds every VMInstance VM whole but for its
// managedFields: besides the controller's own reads (which disks each
// attaches), VMInstance storage answers consistent lists from it, and the
// join recorder reads the record of joined objects and the write marker.
// Nothing writes VMs from these copies, and nothing may change them.

// VM is the informer's copy of the VMInstance VM namespace/name; false
// when the informer does not have it (or has not synced).
func (c *Controller) VM(namespace, name string) (*kubevirtv1.VirtualMachine, bool) {
	obj, ok, err := c.instances.GetStore().GetByKey(namespace + "/" + name)
	if err != nil || !ok {
		return nil, false
	}
	vm, ok := obj.(*kubevirtv1.VirtualMachine)
	return vm, ok
}

// VMs are the informer's copies of the VMInstance VMs in namespace ("" for
// all).
func (c *Controller) VMs(namespace string) []*kubevirtv1.VirtualMachine {
	objs := c.instances.GetStore().List()
	if namespace != "" {
		var err error
		if objs, err = c.instances.GetIndexer().ByIndex(cache.NamespaceIndex, namespace); err != nil {
			return nil
		}
	}
	vms := make([]*kubevirtv1.VirtualMachine, 0, len(objs))
	for _, obj := range objs {
		if vm, ok := obj.(*kubevirtv1.VirtualMachine); ok {
			vms = append(vms, vm)
		}
	}
	return vms
}

// VMProgress tells how far the VM informer has come.
func (c *Controller) VMProgress() *backend.Progress { return c.vmProgress }

// ListAttachments maps "namespace/disk" to the VMInstances in namespace
// ("" for all) that attach the VMDisk disk, listed at resourceVersion (""
// for a consistent read). Without KubeVirt installed no disk has users.
func ListAttachments(ctx context.Context, clients backend.Clients, namespace, resourceVersion string) (map[string][]string, error) {
	vms, err := clients.KubeVirt.KubevirtV1().VirtualMachines(namespace).List(ctx, metav1.ListOptions{
		LabelSelector:   backendnames.KindSelector(backendnames.VMInstanceKind),
		ResourceVersion: resourceVersion,
	})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing the VirtualMachines of namespace %s: %w", namespace, err)
	}
	users := map[string][]string{}
	for i := range vms.Items {
		vm := &vms.Items[i]
		for _, disk := range projection.AttachedVMDisks(vm) {
			key := vm.Namespace + "/" + disk
			users[key] = append(users[key], vm.Name)
		}
	}
	return users, nil
}
