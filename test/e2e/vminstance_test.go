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

package e2e

import (
	"context"
	"fmt"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	appsv1alpha1 "github.com/cozystack/vm-apiserver/pkg/apis/apps/v1alpha1"
	"github.com/cozystack/vm-apiserver/test/environment"
)

func newInstance(name string, spec appsv1alpha1.VMInstanceSpec) *appsv1alpha1.VMInstance {
	return &appsv1alpha1.VMInstance{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
}

func sshKey(t testing.TB) string {
	t.Helper()
	key, err := environment.SSHPublicKey("e2e@test")
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// assertNoBackendObjects checks that nothing was written for VMInstance name.
func assertNoBackendObjects(t *testing.T, c clients, ns, name string) {
	t.Helper()
	ctx := context.Background()
	// A VM written and deleted again goes once virt-controller has removed
	// its finalizer.
	eventually(t, "no VirtualMachine "+name, func() (bool, string) {
		_, err := kubevirtClient(t).KubevirtV1().VirtualMachines(ns).Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Sprintf("a VirtualMachine was left behind: %v", err)
	})
	if _, err := c.kube.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a Service was left behind: %v", err)
	}
	for _, secret := range []string{name + "-cloud-init", name + "-ssh-keys"} {
		s, err := c.kube.CoreV1().Secrets(ns).Get(ctx, secret, metav1.GetOptions{})
		if err == nil && s.Labels["vm.apps.cozystack.io/instance"] == name {
			t.Errorf("Secret %s was left behind", secret)
		}
	}
}
