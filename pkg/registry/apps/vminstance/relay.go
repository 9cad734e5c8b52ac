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
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/cozystack/vm-apiserver/pkg/backend"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
)

// EventRelay repeats what KubeVirt reports on a VMInstance's VirtualMachine
// and VirtualMachineInstance as events of the VMInstance itself, so that a
// tenant who can only read VMInstances sees them in kubectl describe.
type EventRelay struct {
	backend.Clients
	Events record.EventRecorder
}

// Run relays events that appear from now on until ctx ends.
func (r *EventRelay) Run(ctx context.Context) {
	since := time.Now()
	factory := informers.NewSharedInformerFactoryWithOptions(r.Kube, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = "involvedObject.apiVersion=" + kubevirtv1.SchemeGroupVersion.String()
	}))
	informer := factory.Core().V1().Events().Informer()
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj interface{}) {
			if e, ok := obj.(*corev1.Event); ok && !eventTime(e).Before(since) {
				r.relay(ctx, e)
			}
		},
	}); err != nil {
		klog.ErrorS(err, "Cannot relay KubeVirt events")
		return
	}
	factory.Start(ctx.Done())
	<-ctx.Done()
	factory.Shutdown()
}

func (r *EventRelay) relay(ctx context.Context, e *corev1.Event) {
	kind := e.InvolvedObject.Kind
	if kind != "VirtualMachine" && kind != "VirtualMachineInstance" {
		return
	}
	// A VMI has the name of its VM.
	vm, err := r.KubeVirt.KubevirtV1().VirtualMachines(e.InvolvedObject.Namespace).Get(ctx, e.InvolvedObject.Name, metav1.GetOptions{})
	if err != nil || !backendnames.HasKind(vm.Labels, backendnames.VMInstanceKind) {
		return
	}
	r.Events.Event(reference(vm), e.Type, e.Reason, kind+": "+e.Message)
}

func eventTime(e *corev1.Event) time.Time {
	switch {
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	default:
		return e.CreationTimestamp.Time
	}
}
