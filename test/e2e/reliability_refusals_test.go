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
	"net/http"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kubevirtv1 "kubevirt.io/api/core/v1"

	appsv1alpha1 "github.com/cozystack/vm-apiserver/pkg/apis/apps/v1alpha1"
)

// backendState is what a VMInstance's backend objects hold, for comparing
// before and after a refused request.
type backendState struct {
	// vmVersion is the VM's generation: virt-controller writes its
	// status (a new resourceVersion) whenever it likes.
	vmVersion   string
	vmSpec      kubevirtv1.VirtualMachineSpec
	labels      map[string]string
	annotations map[string]string
	services    map[string]string
	secrets     map[string]string
	dataVolumes map[string]string
}

func readBackendState(t *testing.T, c clients, ns, name string) backendState {
	t.Helper()
	ctx := context.Background()
	vm, err := kubevirtClient(t).KubevirtV1().VirtualMachines(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := backendState{vmVersion: strconv.FormatInt(vm.Generation, 10), vmSpec: vm.Spec, labels: vm.Labels, annotations: vm.Annotations,
		services: map[string]string{}, secrets: map[string]string{}, dataVolumes: map[string]string{}}
	services, err := c.kube.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range services.Items {
		s.services[o.Name] = o.ResourceVersion
	}
	secrets, err := c.kube.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range secrets.Items {
		s.secrets[o.Name] = o.ResourceVersion
	}
	dvs, err := c.cdi.CdiV1beta1().DataVolumes(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range dvs.Items {
		// cdi-controller writes DataVolume status (and with it the
		// resourceVersion) whenever it likes: the generation counts the
		// writes to the spec.
		s.dataVolumes[o.Name] = strconv.FormatInt(o.Generation, 10)
	}
	return s
}

// TestRefusedUpdateChangesNothing refuses VMInstance updates for each reason
// found before or after the first backend write, and checks that every
// backend object is as it was: untouched when the refusal came first,
// restored when a later backend write failed.
func TestRefusedUpdateChangesNothing(t *testing.T) {
	c := newClients(t)
	ctx := context.Background()
	key := sshKey(t)
	stopAndExpose := `{"spec":{"running":false,"external":true,"externalPorts":[{"port":22}]}}`
	stopAndAddKey := `{"spec":{"running":false,"sshKeys":["` + key + `"]}}`
	cases := []struct {
		name string
		// prepare puts the obstacle in place.
		prepare func(t *testing.T, ns string)
		patch   string
		code    int32
		// restored: the refusal came after the VM was written, which was
		// then put back (a new resourceVersion, the same content).
		restored bool
	}{{
		name: "service-name-taken",
		prepare: func(t *testing.T, ns string) {
			svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
			if _, err := c.kube.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		},
		patch: stopAndExpose, code: http.StatusConflict,
	}, {
		name: "secret-name-taken",
		prepare: func(t *testing.T, ns string) {
			secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "web-ssh-keys"}, StringData: map[string]string{"mine": "yes"}}
			if _, err := c.kube.CoreV1().Secrets(ns).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		},
		patch: stopAndAddKey, code: http.StatusConflict,
	}, {
		name: "datavolume-name-taken",
		prepare: func(t *testing.T, ns string) {
			if _, err := c.apps.AppsV1alpha1().VMDisks(ns).Create(ctx, newDisk("web-data", appsv1alpha1.VMDiskSpec{}), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		},
		patch: `{"spec":{"running":false,"disks":[{"name":"root","size":"1Gi"},{"name":"data","size":"1Gi"}]}}`, code: http.StatusConflict,
	}, {
		name:    "unknown-instance-type",
		prepare: func(*testing.T, string) {},
		patch:   `{"spec":{"running":false,"instanceType":"no.such-type"}}`, code: http.StatusUnprocessableEntity,
	}, {
		// A quota refuses the Service after the VM was written.
		name:     "service-refused-by-quota",
		prepare:  func(t *testing.T, ns string) { quota(t, c, ns, corev1.ResourceServicesLoadBalancers) },
		patch:    stopAndExpose,
		code:     http.StatusForbidden,
		restored: true,
	}, {
		// The Service is made, then the Secret refused: both undone.
		name:     "secret-refused-by-quota",
		prepare:  func(t *testing.T, ns string) { quota(t, c, ns, corev1.ResourceSecrets) },
		patch:    `{"spec":{"running":false,"external":true,"externalPorts":[{"port":22}],"sshKeys":["` + key + `"]}}`,
		code:     http.StatusForbidden,
		restored: true,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := newNamespace(t, c)
			spec := appsv1alpha1.VMInstanceSpec{Disks: []appsv1alpha1.VMInstanceDisk{{Name: "root", Size: quantity("1Gi")}}, CloudInit: "#cloud-config\n"}
			if _, err := c.apps.AppsV1alpha1().VMInstances(ns).Create(ctx, newInstance("web", spec), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			// virt-controller makes the disk's DataVolume from the VM's
			// template; before that, it would count as a change.
			waitProvisioned(t, c, kubevirtClient(t), ns, "web", []string{"root"})
			tc.prepare(t, ns)
			before := readBackendState(t, c, ns, "web")
			_, err := c.apps.AppsV1alpha1().VMInstances(ns).Patch(ctx, "web", types.MergePatchType, []byte(tc.patch), metav1.PatchOptions{})
			if err == nil {
				t.Fatal("the update was accepted")
			}
			if statusCode(err) != tc.code {
				t.Fatalf("want %d, got %d: %v", tc.code, statusCode(err), err)
			}
			t.Logf("refused: %v", err)
			after := readBackendState(t, c, ns, "web")
			if !tc.restored && after.vmVersion != before.vmVersion {
				t.Errorf("the VirtualMachine was written (generation %s -> %s)", before.vmVersion, after.vmVersion)
			}
			if !equality.Semantic.DeepEqual(before.vmSpec, after.vmSpec) || !equality.Semantic.DeepEqual(before.labels, after.labels) ||
				!equality.Semantic.DeepEqual(before.annotations, after.annotations) {
				t.Errorf("the VirtualMachine changed:\nbefore %+v %v %v\nafter  %+v %v %v", before.vmSpec, before.labels, before.annotations, after.vmSpec, after.labels, after.annotations)
			}
			for what, pair := range map[string][2]map[string]string{
				"Services": {before.services, after.services}, "Secrets": {before.secrets, after.secrets}, "DataVolumes": {before.dataVolumes, after.dataVolumes},
			} {
				if !equality.Semantic.DeepEqual(pair[0], pair[1]) {
					t.Errorf("%s changed: %v -> %v", what, pair[0], pair[1])
				}
			}
			inst, err := c.apps.AppsV1alpha1().VMInstances(ns).Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !*inst.Spec.Running || inst.Spec.External || len(inst.Spec.SSHKeys) != 0 || len(inst.Spec.Disks) != 1 {
				t.Errorf("the VMInstance changed: %+v", inst.Spec)
			}
		})
	}
}

// quota makes a ResourceQuota of zero for resource in ns: quota admission
// then refuses every new object of that resource, a write the cluster
// refuses after vm-apiserver's own checks passed. Admission enforces only
// what the quota's status lists; no quota controller runs in the tests, so
// the test writes the status as it would.
func quota(t *testing.T, c clients, ns string, name corev1.ResourceName) {
	t.Helper()
	ctx := context.Background()
	none := corev1.ResourceList{name: resource.MustParse("0")}
	q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "none"}, Spec: corev1.ResourceQuotaSpec{Hard: none}}
	q, err := c.kube.CoreV1().ResourceQuotas(ns).Create(ctx, q, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	q.Status = corev1.ResourceQuotaStatus{Hard: none, Used: none}
	if _, err := c.kube.CoreV1().ResourceQuotas(ns).UpdateStatus(ctx, q, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Admission reads quotas from a cache: wait until it refuses.
	dryRun := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	eventually(t, "quota admission to refuse "+string(name), func() (bool, string) {
		var err error
		if name == corev1.ResourceSecrets {
			_, err = c.kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "probe"}}, dryRun)
		} else {
			_, err = c.kube.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "probe"},
				Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 80}}}}, dryRun)
		}
		return apierrors.IsForbidden(err), fmt.Sprint(err)
	})
}

func statusCode(err error) int32 {
	if s, ok := err.(apierrors.APIStatus); ok {
		return s.Status().Code
	}
	return 0
}

// TestNodePortsRunningOut exposes VMInstances with the most ports allowed
// until the cluster's node port range (nodePortRange, 200
// ports) is full: the refused one is a 503 that names the cause, and leaves
// nothing behind.
func TestNodePortsRunningOut(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	ports := make([]appsv1alpha1.ExternalPort, 64)
	for i := range ports {
		ports[i] = appsv1alpha1.ExternalPort{Port: int32(1000 + i)}
	}
	var made []string
	defer func() {
		// Give the node ports back before other tests need them.
		for _, name := range made {
			_ = c.apps.AppsV1alpha1().VMInstances(ns).Delete(ctx, name, metav1.DeleteOptions{})
		}
		eventually(t, "the Services to be gone", func() (bool, string) {
			list, err := c.kube.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
			return err == nil && len(list.Items) == 0, fmt.Sprint(err)
		})
	}()
	for i := range 5 {
		name := fmt.Sprintf("lb-%d", i)
		_, err := c.apps.AppsV1alpha1().VMInstances(ns).Create(ctx, newInstance(name, appsv1alpha1.VMInstanceSpec{External: true, ExternalPorts: ports}), metav1.CreateOptions{})
		if err == nil {
			made = append(made, name)
			continue
		}
		if statusCode(err) != http.StatusServiceUnavailable || !strings.Contains(err.Error(), "could not allocate") || !strings.Contains(err.Error(), "spec.externalPorts") {
			t.Fatalf("want a 503 naming the exhausted pool, got %d: %v", statusCode(err), err)
		}
		t.Logf("refused: %v", err)
		assertNoBackendObjects(t, c, ns, name)
		return
	}
	t.Fatalf("%d VMInstances of 64 ports each fit in a range of 200 node ports", len(made))
}
