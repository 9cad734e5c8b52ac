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
	"errors"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/cozystack/vm-apiserver/pkg/backendnames"
)

func TestWriteInProgressRefusesOtherWritesUntilItTimesOut(t *testing.T) {
	now := time.Now()
	vm := &kubevirtv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "web"}}
	if err := checkNoWriteInProgress(vm, now); err != nil {
		t.Fatalf("no marker: %v", err)
	}
	vm.Annotations = map[string]string{backendnames.WriteInProgressAnnotation: backendnames.NewWriteMarker()}
	if err := checkNoWriteInProgress(vm, now); !apierrors.IsConflict(err) {
		t.Fatalf("a write under way must be a 409, got %v", err)
	}
	if err := checkNoWriteInProgress(vm, now.Add(writeInProgressTimeout+time.Second)); err != nil {
		t.Fatalf("an abandoned marker must not lock the VMInstance: %v", err)
	}
	vm.Annotations[backendnames.WriteInProgressAnnotation] = "garbage"
	if err := checkNoWriteInProgress(vm, now); err != nil {
		t.Fatalf("an unreadable marker must not lock the VMInstance: %v", err)
	}
	if backendnames.NewWriteMarker() == backendnames.NewWriteMarker() {
		t.Fatal("two writes must have different markers")
	}
}

func TestOwnedWriteErrorsSpeakOfTheVMInstance(t *testing.T) {
	svc := ownedObject{kind: "Service", name: "web"}
	secret := ownedObject{kind: "Secret", name: "web-ssh-keys"}
	services := schema.GroupResource{Resource: "services"}
	cases := []struct {
		name  string
		o     ownedObject
		err   error
		code  int32
		group string
	}{
		{"allocation", svc, apierrors.NewInternalError(errors.New("failed to allocate a nodePort: range is full")), 503, ""},
		{"changed", secret, apierrors.NewConflict(services, "web-ssh-keys", errors.New("modified")), 409, "apps.cozystack.io"},
		{"refused", secret, apierrors.NewForbidden(services, "web-ssh-keys", errors.New("exceeded quota")), 403, "apps.cozystack.io"},
		{"invalid", secret, apierrors.NewInvalid(schema.GroupKind{Kind: "Secret"}, "web-ssh-keys", nil), 422, "apps.cozystack.io"},
		{"other", secret, errors.New("connection reset"), 500, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := ownedWriteError("web", tc.o, tc.err, "nothing was changed")
			var status apierrors.APIStatus
			if !errors.As(err, &status) {
				t.Fatalf("not a Status: %v", err)
			}
			st := status.Status()
			if st.Code != tc.code {
				t.Fatalf("code %d, want %d: %v", st.Code, tc.code, err)
			}
			if tc.group != "" && (st.Details == nil || st.Details.Group != tc.group) {
				t.Fatalf("the error must be about the VMInstance: %+v", st.Details)
			}
		})
	}
}
