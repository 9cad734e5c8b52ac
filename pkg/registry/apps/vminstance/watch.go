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
	"strconv"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/cozystack/vm-apiserver/pkg/backendnames"
	"github.com/cozystack/vm-apiserver/pkg/projection"
	"github.com/cozystack/vm-apiserver/pkg/registry/backendstore"
)

// WatchJoined watches the Services, Secrets and VMIs of VMInstances, which
// all carry the instance label, and names the VMInstance each change
// concerns: a load balancer's address or a VMI's IP changes the projection
// without touching the VM. Each watch resumes when kube-apiserver ends it.
func (v *virtualMachines) WatchJoined(ctx context.Context, namespace, resourceVersion string) (<-chan backendstore.JoinedChange, string, error) {
	opts := metav1.ListOptions{LabelSelector: backendnames.InstanceLabel, ResourceVersion: resourceVersion}
	if resourceVersion == "" || resourceVersion == "0" {
		// Start from now: resourceVersions are global, so one list gives a
		// starting point for every kind, without replaying what exists.
		now, err := v.Kube.CoreV1().Services(namespace).List(ctx, metav1.ListOptions{LabelSelector: backendnames.InstanceLabel, Limit: 1})
		if err != nil {
			return nil, "", err
		}
		opts.ResourceVersion = now.ResourceVersion
	}
	opts = v.WatchOptions(opts)
	opts.AllowWatchBookmarks = true
	starts := map[string]struct {
		start backendstore.StartWatch
		// shown waits until the join cache's kind, which the projection
		// of the change reads, shows the change.
		shown awaitShown
	}{
		"services":                {v.Kube.CoreV1().Services(namespace).Watch, v.joined.services.awaitShown},
		"secrets":                 {v.Kube.CoreV1().Secrets(namespace).Watch, v.joined.secrets.awaitShown},
		"virtualmachineinstances": {v.KubeVirt.KubevirtV1().VirtualMachineInstances(namespace).Watch, v.joined.vmis.awaitShown},
	}
	out := make(chan backendstore.JoinedChange)
	var running sync.WaitGroup
	for resource, kind := range starts {
		start := kind.start
		w, err := start(ctx, opts)
		if apierrors.IsNotFound(err) {
			// Not served right now (a CRD being replaced): RunResuming
			// starts it once it is back, or ends the public watch.
			w, err = nil, nil
		}
		if err != nil {
			return nil, "", err
		}
		running.Add(1)
		go func() {
			defer running.Done()
			forwardJoined(ctx, resource, start, w, opts, kind.shown, out)
		}()
	}
	go func() {
		running.Wait()
		close(out)
	}()
	return out, opts.ResourceVersion, nil
}

// awaitShown waits until reads of a joined kind show an object as new as
// fresh, which an event at resourceVersion announced.
type awaitShown func(ctx context.Context, namespace, name string, fresh projection.Freshness, resourceVersion uint64) error

// forwardJoined sends the VMInstance of each event of a joined watch, which
// resumes by itself, until ctx ends; a watch that cannot go on sends its
// failure and stops. A change is sent once reads of the kind show it, since
// the VMInstance is projected from them.
func forwardJoined(ctx context.Context, resource string, start backendstore.StartWatch, w watch.Interface, opts metav1.ListOptions, shown awaitShown, out chan<- backendstore.JoinedChange) {
	events := make(chan watch.Event)
	go func() {
		defer close(events)
		backendstore.RunResuming(ctx, resource, start, w, opts, false, events)
	}()
	for event := range events {
		if event.Type == watch.Error {
			status, ok := event.Object.(*metav1.Status)
			if !ok {
				status = &apierrors.NewInternalError(apierrors.FromObject(event.Object)).ErrStatus
			}
			backendstore.Send(ctx, out, backendstore.JoinedChange{Failure: status})
			return
		}
		obj, err := meta.Accessor(event.Object)
		if err != nil {
			continue
		}
		name := obj.GetLabels()[backendnames.InstanceLabel]
		if name == "" {
			continue
		}
		fresh := projection.FreshnessOf(obj.GetResourceVersion())
		if event.Type == watch.Deleted {
			fresh = projection.Freshness{Known: true, Absent: true}
		}
		resourceVersion, _ := strconv.ParseUint(obj.GetResourceVersion(), 10, 64)
		if shown(ctx, obj.GetNamespace(), obj.GetName(), fresh, resourceVersion) != nil {
			return // ctx ended
		}
		if !backendstore.Send(ctx, out, backendstore.JoinedChange{Name: types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}}) {
			return
		}
	}
}
