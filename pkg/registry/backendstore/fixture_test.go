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
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	fakediscovery "k8s.io/client-go/discovery/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	clienttesting "k8s.io/client-go/testing"

	"github.com/cozystack/vm-apiserver/pkg/backend"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
	"github.com/cozystack/vm-apiserver/pkg/projection"
)

// The store under test serves "widgets" over ConfigMaps: a widget is the
// ConfigMap as read, without the reserved keys. Data keys steer the fake
// resource:
const (
	// publicRV stands for a joined object newer than the ConfigMap: the
	// widget's resourceVersion is this one.
	publicRV = "public-rv"
	// phase is the widget's status.phase, a field only the projection knows.
	phase = "phase"
	// unreadable makes the ConfigMap not a readable widget (skipped);
	// broken makes reading it fail (an error).
	unreadable = "unreadable"
	broken     = "broken"
	// inUse makes CheckDelete refuse a delete; invalid makes validation
	// refuse the widget.
	inUse   = "in-use"
	invalid = "invalid"
	// inProgress marks a write under way (WriteTracker).
	inProgress = "write-in-progress"
	// dryRunShown marks what ProjectDryRun returned.
	dryRunShown = "dry-run-shown"
)

const (
	widgetKind = "Widget"
	tenant     = "tenant"
)

var (
	widgets    = schema.GroupResource{Group: "apps.cozystack.io", Resource: "widgets"}
	configMaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
)

type widgetAdapter struct {
	kube *kubefake.Clientset
	// projectingList, when set, is called as ToPublicList starts.
	projectingList func()
}

func (r *widgetAdapter) Client(namespace string) Client[*corev1.ConfigMap, *corev1.ConfigMapList] {
	return r.kube.CoreV1().ConfigMaps(namespace)
}

func (*widgetAdapter) Items(list *corev1.ConfigMapList) []*corev1.ConfigMap {
	return Pointers(list.Items)
}

func (*widgetAdapter) ToPublic(_ context.Context, cm *corev1.ConfigMap) (runtime.Object, error) {
	switch {
	case cm.Data[broken] != "":
		return nil, errors.New("the joined objects cannot be read")
	case cm.Data[unreadable] != "":
		return nil, NotProjectable(errors.New("not a widget"))
	}
	out := cm.DeepCopy()
	meta, err := projection.PublicMeta(&cm.ObjectMeta)
	if err != nil {
		return nil, err
	}
	out.ObjectMeta = meta
	if rv := cm.Data[publicRV]; rv != "" {
		out.ResourceVersion = rv
	}
	return out, nil
}

func (r *widgetAdapter) ToPublicList(ctx context.Context, _ string, cms []*corev1.ConfigMap) ([]runtime.Object, error) {
	if r.projectingList != nil {
		r.projectingList()
	}
	out := make([]runtime.Object, len(cms))
	for i, cm := range cms {
		if obj, err := r.ToPublic(ctx, cm); err == nil {
			out[i] = obj
		}
	}
	return out, nil
}

func (*widgetAdapter) CheckDelete(_ context.Context, cm *corev1.ConfigMap) error {
	if cm.Data[inUse] != "" {
		return apierrors.NewConflict(widgets, cm.Name, errors.New("in use"))
	}
	return nil
}

func backendConfigMap(obj runtime.Object, current *corev1.ConfigMap) (*corev1.ConfigMap, error) {
	cm := obj.(*corev1.ConfigMap).DeepCopy()
	var existing *metav1.ObjectMeta
	if current != nil {
		existing = &current.ObjectMeta
	}
	meta, err := projection.BackendMeta(&cm.ObjectMeta, existing, widgetKind)
	cm.ObjectMeta = meta
	return cm, err
}

func (r *widgetAdapter) Create(ctx context.Context, obj runtime.Object, opts *metav1.CreateOptions) (*corev1.ConfigMap, error) {
	cm, err := backendConfigMap(obj, nil)
	if err != nil {
		return nil, err
	}
	return r.kube.CoreV1().ConfigMaps(cm.Namespace).Create(ctx, cm, metav1.CreateOptions{DryRun: opts.DryRun})
}

func (r *widgetAdapter) Update(ctx context.Context, obj runtime.Object, current *corev1.ConfigMap, opts *metav1.UpdateOptions) (*corev1.ConfigMap, error) {
	cm, err := backendConfigMap(obj, current)
	if err != nil {
		return nil, err
	}
	return r.kube.CoreV1().ConfigMaps(cm.Namespace).Update(ctx, cm, metav1.UpdateOptions{DryRun: opts.DryRun})
}

func (r *widgetAdapter) ProjectDryRun(ctx context.Context, cm *corev1.ConfigMap, _ runtime.Object) (runtime.Object, error) {
	out, err := r.ToPublic(ctx, cm)
	if err == nil {
		out.(*corev1.ConfigMap).Annotations = map[string]string{dryRunShown: "true"}
	}
	return out, err
}

func (*widgetAdapter) WriteInProgress(cm *corev1.ConfigMap) bool {
	return cm.Annotations[inProgress] != ""
}

// widgetStrategy refuses widgets with data[invalid].
type widgetStrategy struct{ BaseStrategy }

func (widgetStrategy) PrepareForCreate(context.Context, runtime.Object)                 {}
func (widgetStrategy) PrepareForUpdate(context.Context, runtime.Object, runtime.Object) {}
func (widgetStrategy) WarningsOnCreate(context.Context, runtime.Object) []string        { return nil }
func (widgetStrategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

func (widgetStrategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	if obj.(*corev1.ConfigMap).Data[invalid] != "" {
		return field.ErrorList{field.Invalid(field.NewPath("data"), invalid, "refused")}
	}
	return nil
}

func (s widgetStrategy) ValidateUpdate(ctx context.Context, obj, _ runtime.Object) field.ErrorList {
	return s.Validate(ctx, obj)
}

type widgetStore = Store[*corev1.ConfigMap, *corev1.ConfigMapList]

// newWidgetStore is a store over a fake clientset holding objs, with the
// ConfigMaps resource served.
func newWidgetStore(t *testing.T, objs ...runtime.Object) (*widgetStore, *kubefake.Clientset) {
	t.Helper()
	kube := kubefake.NewClientset(objs...)
	kube.Discovery().(*fakediscovery.FakeDiscovery).Resources = []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{{Name: "configmaps"}}},
	}
	return &widgetStore{
		Adapter:             &widgetAdapter{kube: kube},
		PublicGroupResource: widgets,
		SingularName:        "widget",
		Kind:                widgetKind,
		BackendGVR:          configMaps,
		BackendProvider:     "Kubernetes",
		Availability:        backend.NewAvailability(kube.Discovery()),
		Clients:             backend.Clients{Kube: kube},
		FieldSet: func(obj runtime.Object) fields.Set {
			cm := obj.(*corev1.ConfigMap)
			return fields.Set{"metadata.name": cm.Name, "status.phase": cm.Data[phase]}
		},
		NewFunc:     func() runtime.Object { return &corev1.ConfigMap{} },
		NewListFunc: func() runtime.Object { return &corev1.ConfigMapList{} },
		Strategy:    widgetStrategy{NewBaseStrategy(scheme.Scheme)},
	}, kube
}

// widget is the backend ConfigMap of a widget; data are key=value pairs.
func widget(name, rv string, data ...string) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Namespace: tenant, Name: name, ResourceVersion: rv, UID: types.UID("uid-" + name),
		Labels: map[string]string{backendnames.KindLabel: widgetKind},
	}, Data: map[string]string{}}
	for i := 0; i+1 < len(data); i += 2 {
		cm.Data[data[i]] = data[i+1]
	}
	return cm
}

func inTenant() context.Context {
	return genericapirequest.WithNamespace(context.Background(), tenant)
}

// failing makes the fake answer verb on configmaps with err.
func failing(kube *kubefake.Clientset, verb string, err error) {
	kube.PrependReactor(verb, "configmaps", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, err
	})
}

// receive is the next event of w, failing the test after a few seconds.
func receive(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case e, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("the watch ended")
		}
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	return watch.Event{}
}

func assertStatus(t *testing.T, err error, code int32, group string) *metav1.Status {
	t.Helper()
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		t.Fatalf("want a %d Status, got %v", code, err)
	}
	st := status.Status()
	if st.Code != code {
		t.Fatalf("want code %d, got %d: %v", code, st.Code, err)
	}
	if group != "" && (st.Details == nil || st.Details.Group != group) {
		t.Fatalf("want an error about group %q, got details %+v", group, st.Details)
	}
	return &st
}
