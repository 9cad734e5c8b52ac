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
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestResourceMissing tells a missing backend resource from a missing
// object, in the forms kube-apiserver and client-go produce.
func TestResourceMissing(t *testing.T) {
	dataVolumes := schema.GroupResource{Group: "cdi.kubevirt.io", Resource: "datavolumes"}
	cases := map[string]struct {
		status metav1.Status
		want   bool
	}{
		"object not found":       {apierrors.NewNotFound(dataVolumes, "disk").ErrStatus, false},
		"status without details": {metav1.Status{Reason: metav1.StatusReasonNotFound, Message: "the server could not find the requested resource"}, true},
		// client-go's error for a plain "404 page not found" body, when the
		// whole group is gone.
		"client-go generic 404": {apierrors.NewGenericServerResponse(404, "list", dataVolumes, "", "404 page not found", 0, true).ErrStatus, true},
	}
	for name, tc := range cases {
		if got := resourceMissing(tc.status); got != tc.want {
			t.Errorf("%s: resourceMissing = %v, want %v (%+v)", name, got, tc.want, tc.status)
		}
	}
}
