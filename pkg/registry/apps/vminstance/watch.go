package vminstance

import (
	"context"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/klog/v2"

	"github.com/cozystack/vm-apiserver/pkg/projection"
)

// WatchJoined watches the Services, Secrets and VMIs of VMInstances, which
// all carry the instance label, and names the VMInstance each change
// concerns: a load balancer's address or a VMI's IP changes the projection
// without touching the VM.
func (v *virtualMachines) WatchJoined(ctx context.Context, namespace, resourceVersion string) (<-chan types.NamespacedName, string, error) {
	opts := metav1.ListOptions{LabelSelector: projection.InstanceLabel, ResourceVersion: resourceVersion}
	if resourceVersion == "" || resourceVersion == "0" {
		// Start from now: resourceVersions are global, so one list gives a
		// starting point for every kind, without replaying what exists.
		now, err := v.Kube.CoreV1().Services(namespace).List(ctx, metav1.ListOptions{LabelSelector: projection.InstanceLabel, Limit: 1})
		if err != nil {
			return nil, "", err
		}
		opts.ResourceVersion = now.ResourceVersion
	}
	starts := []func() (watch.Interface, error){
		func() (watch.Interface, error) { return v.Kube.CoreV1().Services(namespace).Watch(ctx, opts) },
		func() (watch.Interface, error) { return v.Kube.CoreV1().Secrets(namespace).Watch(ctx, opts) },
		func() (watch.Interface, error) {
			return v.KubeVirt.KubevirtV1().VirtualMachineInstances(namespace).Watch(ctx, opts)
		},
	}
	out := make(chan types.NamespacedName)
	var running sync.WaitGroup
	for _, start := range starts {
		w, err := start()
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		running.Add(1)
		go func() {
			defer running.Done()
			defer w.Stop()
			forwardJoined(ctx, w, out)
		}()
	}
	go func() {
		running.Wait()
		close(out)
	}()
	return out, opts.ResourceVersion, nil
}

// forwardJoined sends the VMInstance of each event of w until w or ctx ends.
func forwardJoined(ctx context.Context, w watch.Interface, out chan<- types.NamespacedName) {
	for {
		select {
		case <-ctx.Done():
			return
		case event, ok := <-w.ResultChan():
			if !ok {
				return
			}
			if event.Type == watch.Error {
				klog.V(2).InfoS("A joined watch of VMInstances ended", "status", event.Object)
				return
			}
			obj, err := meta.Accessor(event.Object)
			if err != nil || event.Type == watch.Bookmark {
				continue
			}
			name := obj.GetLabels()[projection.InstanceLabel]
			if name == "" {
				continue
			}
			select {
			case out <- types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}:
			case <-ctx.Done():
				return
			}
		}
	}
}
