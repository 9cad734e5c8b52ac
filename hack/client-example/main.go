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

// Command client-example shows a program using vm-apiserver's generated Go
// client: a typed client creates, lists and deletes a VMInstance while a
// shared informer and its lister follow the changes. The e2e suite runs it.
//
//	go run ./hack/client-example --kubeconfig "$KUBECONFIG" --namespace default
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"

	appsv1alpha1 "github.com/cozystack/vm-apiserver/pkg/apis/apps/v1alpha1"
	"github.com/cozystack/vm-apiserver/pkg/generated/clientset/versioned"
	"github.com/cozystack/vm-apiserver/pkg/generated/informers/externalversions"
)

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the cluster")
	namespace := flag.String("namespace", "default", "namespace to work in")
	name := flag.String("name", "client-example", "name of the VMInstance to create")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, *kubeconfig, *namespace, *name); err != nil {
		fmt.Fprintln(os.Stderr, "client-example:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, kubeconfig, namespace, name string) error {
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	client, err := versioned.NewForConfig(config)
	if err != nil {
		return err
	}

	// An informer on VMInstances; its events arrive on a channel.
	factory := externalversions.NewSharedInformerFactoryWithOptions(client, 0, externalversions.WithNamespace(namespace))
	informer := factory.Apps().V1alpha1().VMInstances()
	events := make(chan string, 16)
	if _, err := informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj interface{}) { events <- "added " + obj.(*appsv1alpha1.VMInstance).Name },
		UpdateFunc: func(_, obj interface{}) { events <- "updated " + obj.(*appsv1alpha1.VMInstance).Name },
		DeleteFunc: func(interface{}) { events <- "deleted" },
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), informer.Informer().HasSynced) {
		return fmt.Errorf("the informer did not sync")
	}
	fmt.Println("informer synced")

	// Create with the typed client; the lister sees it once the informer does.
	stopped := false
	vm := &appsv1alpha1.VMInstance{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       appsv1alpha1.VMInstanceSpec{Running: &stopped, InstanceType: "u1.small"},
	}
	if _, err := client.AppsV1alpha1().VMInstances(namespace).Create(ctx, vm, metav1.CreateOptions{}); err != nil {
		return err
	}
	if err := expect(ctx, events, "added "+name); err != nil {
		return err
	}
	cached, err := informer.Lister().VMInstances(namespace).Get(name)
	if err != nil {
		return err
	}
	fmt.Printf("lister: %s instanceType=%s profile=%s running=%v\n", cached.Name, cached.Spec.InstanceType, cached.Spec.InstanceProfile, *cached.Spec.Running)

	list, err := client.AppsV1alpha1().VMInstances(namespace).List(ctx, metav1.ListOptions{FieldSelector: "spec.running=false"})
	if err != nil {
		return err
	}
	fmt.Printf("list spec.running=false: %d item(s)\n", len(list.Items))

	// Start it: the informer reports the update. KubeVirt writes the VM's
	// status on its own (each write a new VMInstance resourceVersion), so
	// an update from what was read may conflict: read again and retry.
	running := true
	err = retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		current, err := client.AppsV1alpha1().VMInstances(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		current.Spec.Running = &running
		_, err = client.AppsV1alpha1().VMInstances(namespace).Update(ctx, current, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return err
	}
	if err := expect(ctx, events, "updated "+name); err != nil {
		return err
	}
	if err := client.AppsV1alpha1().VMInstances(namespace).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		return err
	}
	if err := expect(ctx, events, "deleted"); err != nil {
		return err
	}
	fmt.Println("done")
	return nil
}

// expect waits for an informer event.
func expect(ctx context.Context, events <-chan string, want string) error {
	for {
		select {
		case got := <-events:
			fmt.Println("informer:", got)
			if got == want {
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("never saw %q", want)
		}
	}
}
