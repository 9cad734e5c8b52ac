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
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	appsv1alpha1 "github.com/cozystack/vm-apiserver/pkg/apis/apps/v1alpha1"
)

// TestNamespaceDeletion deletes a namespace holding both kinds: the
// namespace controller must be able to empty it through vm-apiserver.
func TestNamespaceDeletion(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	if _, err := c.apps.AppsV1alpha1().VMDisks(ns).Create(ctx, newDisk("disk", appsv1alpha1.VMDiskSpec{}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.apps.AppsV1alpha1().VMInstances(ns).Create(ctx, newInstance("vm", appsv1alpha1.VMInstanceSpec{}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.kube.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the namespace to be deleted", func() (bool, string) {
		got, err := c.kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, ""
		}
		if err != nil {
			return false, err.Error()
		}
		var reasons string
		for _, cond := range got.Status.Conditions {
			reasons += string(cond.Type) + "=" + string(cond.Status) + ": " + cond.Message + "; "
		}
		return false, reasons
	})
}
