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

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	kubevirtv1 "kubevirt.io/api/core/v1"
	instancetypev1beta1 "kubevirt.io/api/instancetype/v1beta1"

	"github.com/cozystack/vm-apiserver/pkg/backend"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
	"github.com/cozystack/vm-apiserver/pkg/registry/backendstore"
)

// JoinCache holds in memory the objects VMInstances are read from besides
// their VMs: the Services, Secrets and VMIs that carry the instance label,
// and the cluster instance types. A GET, a list page or a watch event then
// reads kube-apiserver for the VMs alone.
//
// The VM records the version of each Service and Secret the last
// VMInstance write left (backendnames.OwnedVersionsAnnotation): a read waits
// for the cache to reach it, so a read after a write shows the write,
// whichever replica made it. VMIs and instance types only feed status and
// are read as the cache has them.
type JoinCache struct {
	services      *cachedKind[*corev1.Service]
	secrets       *cachedKind[*corev1.Secret]
	vmis          *cachedKind[*kubevirtv1.VirtualMachineInstance]
	instancetypes *cachedKind[*instancetypev1beta1.VirtualMachineClusterInstancetype]
}

// NewJoinCache builds the cache over clients; Run fills it.
func NewJoinCache(c backend.Clients) *JoinCache {
	labelled := metav1.ListOptions{LabelSelector: backendnames.InstanceLabel}
	core, kv := c.Kube.CoreV1(), c.KubeVirt.KubevirtV1()
	types := c.KubeVirt.InstancetypeV1beta1().VirtualMachineClusterInstancetypes()
	return &JoinCache{
		services: newCachedKind(
			informerOf{c.Kube, &corev1.Service{}, backendnames.InstanceLabel,
				func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
					return core.Services("").List(ctx, o)
				},
				func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
					return core.Services("").Watch(ctx, o)
				}},
			liveGet(func(ns string) func(context.Context, string, metav1.GetOptions) (*corev1.Service, error) {
				return core.Services(ns).Get
			}),
			func(ctx context.Context, ns string) ([]*corev1.Service, error) {
				list, err := core.Services(ns).List(ctx, labelled)
				if err != nil {
					return nil, err
				}
				return backendstore.Pointers(list.Items), nil
			}),
		secrets: newCachedKind(
			informerOf{c.Kube, &corev1.Secret{}, backendnames.InstanceLabel,
				func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
					return core.Secrets("").List(ctx, o)
				},
				func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
					return core.Secrets("").Watch(ctx, o)
				}},
			liveGet(func(ns string) func(context.Context, string, metav1.GetOptions) (*corev1.Secret, error) {
				return core.Secrets(ns).Get
			}),
			func(ctx context.Context, ns string) ([]*corev1.Secret, error) {
				list, err := core.Secrets(ns).List(ctx, labelled)
				if err != nil {
					return nil, err
				}
				return backendstore.Pointers(list.Items), nil
			}),
		vmis: newCachedKind(
			informerOf{c.KubeVirt, &kubevirtv1.VirtualMachineInstance{}, backendnames.InstanceLabel,
				func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
					return kv.VirtualMachineInstances("").List(ctx, o)
				},
				func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
					return kv.VirtualMachineInstances("").Watch(ctx, o)
				}},
			liveGet(func(ns string) func(context.Context, string, metav1.GetOptions) (*kubevirtv1.VirtualMachineInstance, error) {
				return kv.VirtualMachineInstances(ns).Get
			}),
			func(ctx context.Context, ns string) ([]*kubevirtv1.VirtualMachineInstance, error) {
				list, err := optional(kv.VirtualMachineInstances(ns).List(ctx, labelled))
				if list == nil {
					return nil, err
				}
				return backendstore.Pointers(list.Items), nil
			}),
		instancetypes: newCachedKind(
			informerOf{c.KubeVirt, &instancetypev1beta1.VirtualMachineClusterInstancetype{}, "",
				func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return types.List(ctx, o) },
				func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) { return types.Watch(ctx, o) }},
			liveGet(func(string) func(context.Context, string, metav1.GetOptions) (*instancetypev1beta1.VirtualMachineClusterInstancetype, error) {
				return types.Get
			}),
			func(ctx context.Context, _ string) ([]*instancetypev1beta1.VirtualMachineClusterInstancetype, error) {
				list, err := optional(types.List(ctx, metav1.ListOptions{}))
				if list == nil {
					return nil, err
				}
				return backendstore.Pointers(list.Items), nil
			}),
	}
}

// Run fills the cache and keeps it current until ctx ends. A kind that is
// not served (KubeVirt not installed yet) is read live until it is.
func (c *JoinCache) Run(ctx context.Context) {
	for _, kind := range []interface {
		run(context.Context)
	}{c.services, c.secrets, c.vmis, c.instancetypes} {
		go kind.run(ctx)
	}
}

func newCachedKind[T metav1.Object](informer informerOf,
	get func(ctx context.Context, namespace, name string) (T, bool, error),
	list func(ctx context.Context, namespace string) ([]T, error)) *cachedKind[T] {
	k := &cachedKind[T]{changed: backend.NewBroadcast(), wait: freshnessWait, get: get, list: list}
	k.informer = backend.NewInformer(informer.client, informer.example, informer.selector,
		informer.list, k.lag.watching(informer.watch), cache.Indexers{}, backend.WithoutManagedFields)
	notify := func(obj any) {
		if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tombstone.Obj
		}
		if m, ok := obj.(metav1.Object); ok {
			k.lag.applied(m.GetResourceVersion())
		}
		k.changed.Notify()
	}
	_, _ = k.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    notify,
		UpdateFunc: func(_, obj any) { notify(obj) },
		DeleteFunc: notify,
	})
	_ = k.informer.SetWatchErrorHandlerWithContext(func(ctx context.Context, r *cache.Reflector, err error) {
		k.lag.failed(r.LastSyncResourceVersion())
		cache.DefaultWatchErrorHandler(ctx, r, err)
	})
	return k
}

func (k *cachedKind[T]) run(ctx context.Context) { k.informer.RunWithContext(ctx) }

// informerOf is what an informer of a joined kind lists and watches: the
// objects list and watch return with selector.
type informerOf struct {
	client   any
	example  runtime.Object
	selector string
	list     func(context.Context, metav1.ListOptions) (runtime.Object, error)
	watch    func(context.Context, metav1.ListOptions) (watch.Interface, error)
}
