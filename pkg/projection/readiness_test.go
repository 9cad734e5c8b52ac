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

package projection

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubevirtv1 "kubevirt.io/api/core/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
)

// conditionsOf lists conditions as "Type=Status" in order.
func conditionsOf(cs []metav1.Condition) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Type+"="+string(c.Status))
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestVMInstanceReadinessFollowsKstatusConventions(t *testing.T) {
	vmi := &kubevirtv1.VirtualMachineInstance{}
	cases := []struct {
		name    string
		status  kubevirtv1.VirtualMachineStatus
		vmi     *kubevirtv1.VirtualMachineInstance
		running bool
		want    []string
	}{
		{"new, nothing reported", kubevirtv1.VirtualMachineStatus{}, nil, true, []string{"Ready=False", "Reconciling=True"}},
		{"starting", kubevirtv1.VirtualMachineStatus{PrintableStatus: kubevirtv1.VirtualMachineStatusStarting}, vmi, true, []string{"Ready=False", "Reconciling=True"}},
		{"ready", kubevirtv1.VirtualMachineStatus{Ready: true, PrintableStatus: kubevirtv1.VirtualMachineStatusRunning}, vmi, true, []string{"Ready=True"}},
		{"unschedulable", kubevirtv1.VirtualMachineStatus{PrintableStatus: kubevirtv1.VirtualMachineStatusUnschedulable}, vmi, true, []string{"Ready=False", "Stalled=True"}},
		{"stopping", kubevirtv1.VirtualMachineStatus{PrintableStatus: kubevirtv1.VirtualMachineStatusStopping}, vmi, false, []string{"Ready=False", "Reconciling=True"}},
		{"stopped", kubevirtv1.VirtualMachineStatus{PrintableStatus: kubevirtv1.VirtualMachineStatusStopped}, nil, false, []string{"Ready=False"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vm := &kubevirtv1.VirtualMachine{Status: tc.status}
			got := conditionsOf(vmInstanceReadiness(vm, tc.vmi, tc.running))
			if !equalStrings(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestVMInstanceConditionsKeepKubeVirtsOthers(t *testing.T) {
	vm := &kubevirtv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "web", Generation: 3}, Status: kubevirtv1.VirtualMachineStatus{
		Ready: true, ObservedGeneration: 2,
		Conditions: []kubevirtv1.VirtualMachineCondition{
			{Type: kubevirtv1.VirtualMachineReady, Status: corev1.ConditionTrue, Reason: "Ready"},
			{Type: kubevirtv1.VirtualMachineRestartRequired, Status: corev1.ConditionTrue},
		},
	}}
	inst, err := VMInstanceFrom(&VMInstanceBackend{VM: vm}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := conditionsOf(inst.Status.Conditions); !equalStrings(got, []string{"Ready=True", "RestartRequired=True"}) {
		t.Fatalf("conditions: %v", got)
	}
	if inst.Status.ObservedGeneration != 2 {
		t.Fatalf("observedGeneration %d: KubeVirt's own must be shown", inst.Status.ObservedGeneration)
	}
}

func TestVMDiskReadiness(t *testing.T) {
	cases := []struct {
		phase cdiv1.DataVolumePhase
		want  []string
	}{
		{"", []string{"Ready=False", "Reconciling=True"}},
		{cdiv1.ImportInProgress, []string{"Ready=False", "Reconciling=True"}},
		{cdiv1.WaitForFirstConsumer, []string{"Ready=False"}},
		{cdiv1.Succeeded, []string{"Ready=True"}},
		{cdiv1.Failed, []string{"Ready=False", "Stalled=True"}},
	}
	for _, tc := range cases {
		dv := &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Generation: 4}, Status: cdiv1.DataVolumeStatus{Phase: tc.phase}}
		if got := conditionsOf(vmDiskReadiness(dv)); !equalStrings(got, tc.want) {
			t.Errorf("%q: got %v, want %v", tc.phase, got, tc.want)
		}
	}
}
