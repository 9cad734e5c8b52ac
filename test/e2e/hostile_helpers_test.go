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
	"strconv"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// hostileCase is one request that must be refused: code is the HTTP status
// it must get and, for a 422, field a path its Status details must name.
type hostileCase struct {
	name  string
	do    func(ctx context.Context) error
	code  int32
	field string
}

// assertRefused checks that err is an API error with code (any 4xx when
// code is 0) and, when field is set, a cause naming field.
func assertRefused(t *testing.T, err error, code int32, field string) {
	t.Helper()
	status, ok := err.(apierrors.APIStatus)
	if err == nil || !ok {
		t.Fatalf("want a refusal, got %v", err)
	}
	got := status.Status().Code
	if code == 0 && (got < 400 || got >= 500) || code != 0 && got != code {
		t.Fatalf("want HTTP %d, got %d: %v", code, got, err)
	}
	if field == "" {
		return
	}
	if status.Status().Details != nil {
		for _, cause := range status.Status().Details.Causes {
			if cause.Field == field {
				return
			}
		}
	}
	t.Fatalf("the %d does not name %s: %v", got, field, err)
}

// backendObjects maps "kind/name" to the resourceVersion of every Service
// and Secret in ns, and to the generation (the writes to the spec) of every
// DataVolume and VirtualMachine, whose status and metadata cdi-controller
// and virt-controller write on their own.
func backendObjects(t *testing.T, c clients, ns string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	dvs, err := c.cdi.CdiV1beta1().DataVolumes(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range dvs.Items {
		out["DataVolume/"+o.Name] = "generation " + strconv.FormatInt(o.Generation, 10)
	}
	vms, err := kubevirtClient(t).KubevirtV1().VirtualMachines(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range vms.Items {
		out["VirtualMachine/"+o.Name] = "generation " + strconv.FormatInt(o.Generation, 10)
	}
	svcs, err := c.kube.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range svcs.Items {
		out["Service/"+o.Name] = o.ResourceVersion
	}
	secrets, err := c.kube.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range secrets.Items {
		out["Secret/"+o.Name] = o.ResourceVersion
	}
	return out
}

// diffBackendObjects describes what was created, changed or deleted.
func diffBackendObjects(before, after map[string]string) string {
	var diffs []string
	for name, rv := range after {
		old, ok := before[name]
		switch {
		case !ok:
			diffs = append(diffs, name+" created")
		case old != rv:
			diffs = append(diffs, fmt.Sprintf("%s changed (%s, was %s)", name, rv, old))
		}
	}
	for name := range before {
		if _, ok := after[name]; !ok {
			diffs = append(diffs, name+" deleted")
		}
	}
	return strings.Join(diffs, ", ")
}
