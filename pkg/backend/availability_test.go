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
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	kubetesting "k8s.io/client-go/testing"
)

var dataVolumes = schema.GroupVersionResource{Group: "cdi.kubevirt.io", Version: "v1beta1", Resource: "datavolumes"}

func TestAvailabilityRecoversWhenInstalled(t *testing.T) {
	disco := &fakediscovery.FakeDiscovery{Fake: &kubetesting.Fake{}}
	a := NewAvailability(disco)
	now := time.Unix(0, 0)
	a.now = func() time.Time { return now }

	err := a.Require(dataVolumes, "CDI")
	if !apierrors.IsServiceUnavailable(err) || err.Error() != "the backend resource datavolumes.cdi.kubevirt.io (CDI) is not installed in the cluster" {
		t.Fatalf("missing: %v", err)
	}

	disco.Resources = []*metav1.APIResourceList{{GroupVersion: "cdi.kubevirt.io/v1beta1", APIResources: []metav1.APIResource{{Name: "datavolumes"}}}}
	if err := a.Require(dataVolumes, "CDI"); err == nil {
		t.Fatal("a missing resource is looked up again only after the recheck interval")
	}
	now = now.Add(recheckInterval)
	if err := a.Require(dataVolumes, "CDI"); err != nil {
		t.Fatalf("after install: %v", err)
	}

	disco.Resources = nil
	if err := a.Require(dataVolumes, "CDI"); err != nil {
		t.Fatalf("a served resource is trusted until forgotten: %v", err)
	}
	a.Forget(dataVolumes)
	if err := a.Require(dataVolumes, "CDI"); !apierrors.IsServiceUnavailable(err) {
		t.Fatalf("after forget: %v", err)
	}
}
