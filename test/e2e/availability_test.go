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
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	appsv1alpha1 "github.com/cozystack/vm-apiserver/pkg/apis/apps/v1alpha1"
)

// TestMissingBackendCRD removes the DataVolume CRD (as on a cluster without
// CDI): vm-apiserver keeps serving discovery, answers 503 naming what is
// missing, and recovers by itself once the CRD is back.
func TestMissingBackendCRD(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	crd, err := env.BackendCRD("datavolumes.cdi.kubevirt.io")
	if err != nil {
		t.Fatal(err)
	}
	// Whatever happens, later tests need the CRD back.
	t.Cleanup(func() {
		_, _ = env.Kubectl(context.Background(), "", "apply", "--server-side", "-f", crd)
		_, _ = env.Kubectl(context.Background(), "", "wait", "--for=condition=Established", "-f", crd)
	})
	kubectl(t, "delete", "-f", crd, "--wait=true")

	eventually(t, "vmdisks to answer 503", func() (bool, string) {
		_, err := c.apps.AppsV1alpha1().VMDisks(ns).List(ctx, metav1.ListOptions{})
		return apierrors.IsServiceUnavailable(err) && strings.Contains(err.Error(), "datavolumes.cdi.kubevirt.io"), "last error: " + errString(err)
	})
	_, err = c.apps.AppsV1alpha1().VMDisks(ns).Create(ctx, newDisk("while-missing", appsv1alpha1.VMDiskSpec{}), metav1.CreateOptions{})
	if !apierrors.IsServiceUnavailable(err) {
		t.Fatalf("create while CDI is missing: want 503, got %v", err)
	}
	if out, err := env.Kubectl(ctx, "", "get", "vmdisk", "-n", ns); err == nil || !strings.Contains(out, "datavolumes.cdi.kubevirt.io") {
		t.Fatalf("kubectl get vmdisk should explain what is missing: %v\n%s", err, out)
	}
	out := kubectl(t, "api-resources", "--api-group=apps.cozystack.io")
	if !strings.Contains(out, "vmdisks") {
		t.Fatalf("discovery must keep listing vmdisks:\n%s", out)
	}

	kubectl(t, "apply", "--server-side", "-f", crd)
	kubectl(t, "wait", "--for=condition=Established", "-f", crd)
	eventually(t, "vmdisks to recover", func() (bool, string) {
		_, err := c.apps.AppsV1alpha1().VMDisks(ns).Create(ctx, newDisk("after-recovery", appsv1alpha1.VMDiskSpec{}), metav1.CreateOptions{})
		return err == nil, "last error: " + errString(err)
	})
}

func errString(err error) string {
	if err == nil {
		return "none"
	}
	return err.Error()
}
