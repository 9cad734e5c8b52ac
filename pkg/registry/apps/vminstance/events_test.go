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
	"testing"

	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

// A VM made before run strategies, with only the legacy spec.running, is
// running or stopped as the projection reads it: an update that sets a run
// strategy records Started or Stopped only when that changes it.
func TestUpdateOfALegacyVMRecordsStartAndStopAsTheProjectionReadsIt(t *testing.T) {
	legacy := func(running bool) *kubevirtv1.VirtualMachine {
		return &kubevirtv1.VirtualMachine{Spec: kubevirtv1.VirtualMachineSpec{Running: &running}}
	}
	withStrategy := func(s kubevirtv1.VirtualMachineRunStrategy) *kubevirtv1.VirtualMachine {
		return &kubevirtv1.VirtualMachine{Spec: kubevirtv1.VirtualMachineSpec{RunStrategy: ptr.To(s)}}
	}
	cases := []struct {
		name    string
		old, vm *kubevirtv1.VirtualMachine
		want    string
	}{
		{"spec.running=true counts as running", legacy(true), withStrategy(kubevirtv1.RunStrategyAlways), ""},
		{"spec.running=true, then halted", legacy(true), withStrategy(kubevirtv1.RunStrategyHalted), "Normal Stopped Set the VirtualMachine's run strategy to Halted"},
		{"spec.running=false counts as stopped", legacy(false), withStrategy(kubevirtv1.RunStrategyHalted), ""},
		{"spec.running=false, then always", legacy(false), withStrategy(kubevirtv1.RunStrategyAlways), "Normal Started Set the VirtualMachine's run strategy to Always"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			events := record.NewFakeRecorder(10)
			(&virtualMachines{events: events}).recordUpdate(tc.old, tc.vm, nil)
			var got string
			select {
			case got = <-events.Events:
			default:
			}
			if got != tc.want {
				t.Fatalf("recorded %q, want %q", got, tc.want)
			}
		})
	}
}
