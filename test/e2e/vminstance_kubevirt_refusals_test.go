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
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	appsv1alpha1 "github.com/cozystack/vm-apiserver/pkg/apis/apps/v1alpha1"
)

// TestVMInstanceUpdatesKubeVirtRefuses changes VMInstances in ways
// vm-apiserver's own validation lets through and KubeVirt's admission
// webhook (virt-api) refuses: each is a 422 naming the VMInstance field the
// user wrote, and the VM stays as it was.
func TestVMInstanceUpdatesKubeVirtRefuses(t *testing.T) {
	c := newClients(t)
	kv := kubevirtClient(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	small := resource.MustParse("1Gi")
	cases := []struct {
		name   string
		change func(*appsv1alpha1.VMInstanceSpec)
		field  string
		says   string
	}{{
		// Windows 11 requires 2 vCPUs and 4Gi; u1.small has 1 and 2Gi.
		name:   "instance type below the profile's requirements",
		change: func(s *appsv1alpha1.VMInstanceSpec) { s.InstanceProfile, s.InstanceType = "windows-11", "u1.small" },
		field:  "spec.instanceType",
		says:   "insufficient",
	}, {
		// Ubuntu requires 2Gi of memory.
		name: "memory below the profile's requirements",
		change: func(s *appsv1alpha1.VMInstanceSpec) {
			s.InstanceType = ""
			s.Resources = &appsv1alpha1.VMResources{CPU: resourcePtr(resource.MustParse("1")), Memory: &small}
		},
		field: "spec.resources.memory",
		says:  "insufficient Memory",
	}}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := "refused-" + string(rune('a'+i))
			spec := appsv1alpha1.VMInstanceSpec{InstanceType: "u1.medium", InstanceProfile: "ubuntu"}
			if _, err := c.apps.AppsV1alpha1().VMInstances(ns).Create(ctx, newInstance(name, spec), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			before, err := kv.KubevirtV1().VirtualMachines(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			// virt-controller writes the VM's status (and makes its VMI)
			// meanwhile, each a new VMInstance resourceVersion: retry what
			// conflicts with it.
			eventually(t, "an update that does not conflict", func() (bool, string) {
				inst, getErr := c.apps.AppsV1alpha1().VMInstances(ns).Get(ctx, name, metav1.GetOptions{})
				if getErr != nil {
					return false, getErr.Error()
				}
				if before, getErr = kv.KubevirtV1().VirtualMachines(ns).Get(ctx, name, metav1.GetOptions{}); getErr != nil {
					return false, getErr.Error()
				}
				tc.change(&inst.Spec)
				_, err = c.apps.AppsV1alpha1().VMInstances(ns).Update(ctx, inst, metav1.UpdateOptions{})
				return !apierrors.IsConflict(err), fmt.Sprint(err)
			})
			if !apierrors.IsInvalid(err) {
				t.Fatalf("want 422, got %v", err)
			}
			status := err.(apierrors.APIStatus).Status()
			var fields []string
			for _, cause := range status.Details.Causes {
				fields = append(fields, cause.Field)
			}
			if status.Details.Kind != "VMInstance" || !strings.Contains(strings.Join(fields, " "), tc.field) || !strings.Contains(status.Message, tc.says) {
				t.Fatalf("want a refusal of %s saying %q, got %s %v: %s", tc.field, tc.says, status.Details.Kind, fields, status.Message)
			}
			after, err := kv.KubevirtV1().VirtualMachines(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !equality.Semantic.DeepEqual(after.Spec, before.Spec) {
				t.Fatal("the refused update changed the VM")
			}
		})
	}
}

func resourcePtr(q resource.Quantity) *resource.Quantity { return &q }
