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

package backend

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

func vmAt(resourceVersion string) *kubevirtv1.VirtualMachine {
	return &kubevirtv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "vm", ResourceVersion: resourceVersion}}
}

func applied(t *testing.T, p *Progress, want uint64) {
	t.Helper()
	if got, _ := p.Applied(); got != want {
		t.Errorf("applied %d, want %d", got, want)
	}
}

func TestProgressFollowsTheWatch(t *testing.T) {
	p := NewProgress()
	_, next := p.Applied()
	p.Handler().OnAdd(vmAt("5"), false)
	select {
	case <-next:
	default:
		t.Error("a change did not wake waiters")
	}
	applied(t, p, 5)
	p.Handler().OnDelete(cache.DeletedFinalStateUnknown{Key: "vm", Obj: vmAt("7")})
	applied(t, p, 7)
}

func TestProgressDoesNotCountAStoreReplacedFromAList(t *testing.T) {
	p := NewProgress()
	p.Handler().OnUpdate(nil, vmAt("5"))
	list := p.Listing(func(context.Context, metav1.ListOptions) (runtime.Object, error) {
		return &kubevirtv1.VirtualMachineList{ListMeta: metav1.ListMeta{ResourceVersion: "10"}}, nil
	})
	if _, err := list(context.Background(), metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	applied(t, p, 0)
	// The list's objects, applied in key order.
	p.Handler().OnUpdate(nil, vmAt("9"))
	p.Handler().OnAdd(vmAt("3"), true)
	applied(t, p, 0)
	// The watch after it.
	p.Handler().OnUpdate(nil, vmAt("11"))
	applied(t, p, 11)
}

func TestProgressDoesNotCountAStoreReplacedFromInitialEvents(t *testing.T) {
	p := NewProgress()
	p.Handler().OnUpdate(nil, vmAt("5"))
	fake := watch.NewFake()
	w, err := p.Watching(func(context.Context, metav1.ListOptions) (watch.Interface, error) { return fake, nil })(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	end := vmAt("30")
	end.Annotations = map[string]string{metav1.InitialEventsAnnotationKey: "true"}
	go fake.Action(watch.Bookmark, end)
	<-w.ResultChan()
	applied(t, p, 0)
	p.Handler().OnAdd(vmAt("25"), true)
	applied(t, p, 0)
	p.Handler().OnUpdate(nil, vmAt("31"))
	applied(t, p, 31)
	// A bookmark of a watch under way changes nothing.
	go fake.Action(watch.Bookmark, vmAt("40"))
	<-w.ResultChan()
	applied(t, p, 31)
}
