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
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
)

func TestGetReadsOnlyTheOwnedObjectsThatCarryTheInstanceLabel(t *testing.T) {
	c := newCluster(t)
	c.create(t, instance("web", withoutOwnedObjects))
	// A tenant's own Secret of the name the SSH keys would have.
	foreign := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "web-ssh-keys"}, Data: map[string][]byte{"key0": []byte(sshKey)}}
	if _, err := c.kube.CoreV1().Secrets(tenant).Create(context.Background(), foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	obj, err := c.store.Get(asAlice(), "web", &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if keys := obj.(*apps.VMInstance).Spec.SSHKeys; len(keys) != 0 {
		t.Fatalf("a Secret without the instance label is not the VMInstance's, got %v", keys)
	}
}

func TestListShowsEachVMInstanceWithItsOwnObjects(t *testing.T) {
	c := newCluster(t)
	c.create(t, instance("web"))
	c.create(t, instance("db", withoutOwnedObjects, func(i *apps.VMInstance) { i.Spec.Disks[0].Name = "data" }))
	obj, err := c.store.List(asAlice(), &metainternalversion.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]apps.VMInstance{}
	for _, inst := range obj.(*apps.VMInstanceList).Items {
		byName[inst.Name] = inst
	}
	if len(byName) != 2 || !byName["web"].Spec.External || len(byName["web"].Spec.SSHKeys) != 1 || byName["db"].Spec.External {
		t.Fatalf("got %+v", byName)
	}
}

// watchFromNow watches the VMInstances from the cluster's current revision.
func (c *cluster) watchFromNow(t *testing.T) watch.Interface {
	t.Helper()
	w, err := c.store.Watch(asAlice(), &metainternalversion.ListOptions{ResourceVersion: strconv.FormatInt(c.revision.Load(), 10)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return w
}

func nextInstance(t *testing.T, w watch.Interface, typ watch.EventType) *apps.VMInstance {
	t.Helper()
	select {
	case e, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("the watch ended")
		}
		inst, isInstance := e.Object.(*apps.VMInstance)
		if e.Type != typ || !isInstance {
			t.Fatalf("want %s of a VMInstance, got %s %+v", typ, e.Type, e.Object)
		}
		return inst
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s event", typ)
	}
	return nil
}

func TestWatchShowsAVMInstanceOnlyOnceItsWriteIsComplete(t *testing.T) {
	c := newCluster(t)
	w := c.watchFromNow(t)
	c.create(t, instance("web"))
	inst := nextInstance(t, w, watch.Added)
	if !inst.Spec.External || len(inst.Spec.SSHKeys) != 1 || inst.Spec.CloudInit == "" {
		t.Fatalf("the first event must show the complete VMInstance, got %+v", inst.Spec)
	}
}
