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
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/catalogue"
)

// TestVMInstanceConditionsHaveTransitionTimes: a VM condition KubeVirt
// wrote without a transition time still gets one (metav1.Condition requires
// it): the probe time, else the VM's creation.
func TestVMInstanceConditionsHaveTransitionTimes(t *testing.T) {
	inst := &apps.VMInstance{ObjectMeta: metav1.ObjectMeta{Name: "vm"}, Spec: apps.VMInstanceSpec{Running: ptr(true), InstanceType: "u1.medium", InstanceProfile: "ubuntu"}}
	b, err := VMInstanceBackendFor(inst, nil, VMInstanceInputs{Profile: catalogue.Profile{Preference: "ubuntu"}})
	if err != nil {
		t.Fatal(err)
	}
	created := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	probed := metav1.NewTime(created.Add(time.Minute))
	b.VM.CreationTimestamp = created
	b.VM.Status.Conditions = []kubevirtv1.VirtualMachineCondition{
		{Type: "Provisioning", Status: corev1.ConditionTrue, Reason: "Provisioning"},
		{Type: "DataVolumesReady", Status: corev1.ConditionFalse, Reason: "NotReady", LastProbeTime: probed},
	}
	got, err := VMInstanceFrom(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]metav1.Time{"Provisioning": created, "DataVolumesReady": probed}
	for _, c := range got.Status.Conditions {
		if c.LastTransitionTime.IsZero() {
			t.Errorf("condition %s has no transition time", c.Type)
		}
		if w, ok := want[c.Type]; ok && !c.LastTransitionTime.Equal(&w) {
			t.Errorf("condition %s: transition time %v, want %v", c.Type, c.LastTransitionTime, w)
		}
	}
}
