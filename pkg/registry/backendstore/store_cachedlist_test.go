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

package backendstore

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/cozystack/vm-apiserver/pkg/backendnames"
)

// cachedWidgets is a widget adapter with a cache that answers every list
// it is asked, recording the options.
type cachedWidgets struct {
	*widgetAdapter
	cached []*corev1.ConfigMap
	asked  []metav1.ListOptions
}

func (c *cachedWidgets) ListCached(_ context.Context, _ string, opts metav1.ListOptions) ([]*corev1.ConfigMap, string, bool, error) {
	c.asked = append(c.asked, opts)
	return c.cached, "42", true, nil
}

func TestAConsistentUnpagedListComesFromTheCache(t *testing.T) {
	s, kube := newWidgetStore(t, widget("live", "5"))
	cache := &cachedWidgets{widgetAdapter: s.Adapter.(*widgetAdapter),
		cached: []*corev1.ConfigMap{widget("a", "7", phase, "Ready"), widget("b", "8", phase, "Pending")}}
	s.Adapter = cache
	kube.ClearActions()
	out, err := s.List(inTenant(), &metainternalversion.ListOptions{FieldSelector: fields.OneTermEqualSelector("status.phase", "Ready")})
	if err != nil {
		t.Fatal(err)
	}
	list := out.(*corev1.ConfigMapList)
	if len(list.Items) != 1 || list.Items[0].Name != "a" || list.ResourceVersion != "42" {
		t.Fatalf("got %d items at %q, want the cache's a (the projected field applied) at 42", len(list.Items), list.ResourceVersion)
	}
	if len(cache.asked) != 1 || cache.asked[0].LabelSelector != backendnames.KindLabel+"="+widgetKind {
		t.Errorf("the cache was asked %+v, want once with the kind label", cache.asked)
	}
	for _, action := range kube.Actions() {
		if action.GetVerb() == "list" {
			t.Errorf("listed the backend too: %v", action)
		}
	}
}

func TestListsAtAVersionOrInPagesAreRead(t *testing.T) {
	for name, opts := range map[string]*metainternalversion.ListOptions{
		"at a resourceVersion": {ResourceVersion: "0"},
		"in pages":             {Limit: 1},
	} {
		t.Run(name, func(t *testing.T) {
			s, _ := newWidgetStore(t, widget("live", "5"))
			cache := &cachedWidgets{widgetAdapter: s.Adapter.(*widgetAdapter), cached: []*corev1.ConfigMap{widget("a", "7")}}
			s.Adapter = cache
			out, err := s.List(inTenant(), opts)
			if err != nil {
				t.Fatal(err)
			}
			if list := out.(*corev1.ConfigMapList); len(list.Items) != 1 || list.Items[0].Name != "live" {
				t.Errorf("got %+v, want the live widget", list.Items)
			}
			if len(cache.asked) != 0 {
				t.Errorf("the cache was asked %+v", cache.asked)
			}
		})
	}
}
