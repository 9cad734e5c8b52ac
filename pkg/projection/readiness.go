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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubevirtv1 "kubevirt.io/api/core/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
)

// The conditions readiness tools read: kubectl wait --for=condition=Ready,
// and kstatus (Flux's health checks, Helm --wait, kpt), which calls an
// object InProgress while Reconciling is True or observedGeneration trails
// the generation, Failed while Stalled is True, and Current otherwise.
const (
	ConditionReady       = "Ready"
	ConditionReconciling = "Reconciling"
	ConditionStalled     = "Stalled"
)

// stalledVMStatuses are the VM states that need a change to get out of.
var stalledVMStatuses = map[kubevirtv1.VirtualMachinePrintableStatus]bool{
	kubevirtv1.VirtualMachineStatusUnschedulable:    true,
	kubevirtv1.VirtualMachineStatusErrImagePull:     true,
	kubevirtv1.VirtualMachineStatusImagePullBackOff: true,
	kubevirtv1.VirtualMachineStatusPvcNotFound:      true,
	kubevirtv1.VirtualMachineStatusDataVolumeError:  true,
	kubevirtv1.VirtualMachineStatusCrashLoopBackOff: true,
}

// vmInstanceReadiness is the Ready condition of a VMInstance (always there:
// True once KubeVirt reports the VM ready) and, while it is not where its
// spec asks, Reconciling or Stalled. A stopped VMInstance has arrived when
// no VMI is left.
func vmInstanceReadiness(vm *kubevirtv1.VirtualMachine, vmi *kubevirtv1.VirtualMachineInstance, running bool) []metav1.Condition {
	since := vm.CreationTimestamp
	phase := vm.Status.PrintableStatus
	ready := metav1.Condition{Type: ConditionReady, Status: metav1.ConditionFalse}
	for _, c := range vm.Status.Conditions {
		if string(c.Type) == ConditionReady {
			ready.LastTransitionTime, ready.Reason, ready.Message = c.LastTransitionTime, c.Reason, c.Message
		}
	}
	var progress *metav1.Condition
	switch {
	case running && vm.Status.Ready:
		ready.Status = metav1.ConditionTrue
		ready.Reason = orDefault(ready.Reason, "Running")
	case running && stalledVMStatuses[phase]:
		ready.Reason = orDefault(ready.Reason, string(phase))
		progress = &metav1.Condition{Type: ConditionStalled, Status: metav1.ConditionTrue, Reason: string(phase),
			Message: "the VirtualMachine is " + string(phase)}
	case running:
		ready.Reason = orDefault(string(phase), "NotStarted")
		ready.Message = orDefault(ready.Message, "the machine is not running yet")
		progress = &metav1.Condition{Type: ConditionReconciling, Status: metav1.ConditionTrue, Reason: ready.Reason,
			Message: "waiting for the machine to run and be ready"}
	default:
		ready.Reason = "Stopped"
		ready.Message = "spec.running is false"
		if vmi != nil {
			progress = &metav1.Condition{Type: ConditionReconciling, Status: metav1.ConditionTrue, Reason: "Stopping",
				Message: "waiting for the machine to stop"}
		}
	}
	return readinessConditions(ready, progress, since)
}

// vmDiskReadiness is the Ready condition of a VMDisk (True once CDI has
// imported it) and, until then, Reconciling, or Stalled when the import
// failed. A disk that waits for its first consumer has nothing to do until
// a VMInstance uses it: not ready, but not in progress either, so that
// waiting for it before its VMInstance does not wait forever.
func vmDiskReadiness(dv *cdiv1.DataVolume) []metav1.Condition {
	since := dv.CreationTimestamp
	ready := metav1.Condition{Type: ConditionReady, Status: metav1.ConditionFalse}
	for _, c := range dv.Status.Conditions {
		if c.Type == cdiv1.DataVolumeReady {
			ready.LastTransitionTime, ready.Reason, ready.Message = c.LastTransitionTime, c.Reason, c.Message
		}
	}
	phase := string(dv.Status.Phase)
	var progress *metav1.Condition
	switch dv.Status.Phase {
	case cdiv1.Succeeded:
		ready.Status = metav1.ConditionTrue
		ready.Reason = orDefault(ready.Reason, phase)
	case cdiv1.Failed:
		ready.Reason = orDefault(ready.Reason, phase)
		progress = &metav1.Condition{Type: ConditionStalled, Status: metav1.ConditionTrue, Reason: phase, Message: orDefault(ready.Message, "the import failed")}
	case cdiv1.WaitForFirstConsumer, cdiv1.PendingPopulation:
		ready.Reason = phase
		ready.Message = orDefault(ready.Message, "the disk is made when a VMInstance first uses it")
	default:
		ready.Reason = orDefault(phase, "Pending")
		progress = &metav1.Condition{Type: ConditionReconciling, Status: metav1.ConditionTrue, Reason: ready.Reason, Message: "waiting for the disk to be imported"}
	}
	return readinessConditions(ready, progress, since)
}

// readinessConditions lists ready and progress (nil: none); a time the
// backend did not report is the object's creation.
func readinessConditions(ready metav1.Condition, progress *metav1.Condition, since metav1.Time) []metav1.Condition {
	if ready.LastTransitionTime.IsZero() {
		ready.LastTransitionTime = since
	}
	out := []metav1.Condition{ready}
	if progress != nil {
		progress.LastTransitionTime = ready.LastTransitionTime
		out = append(out, *progress)
	}
	return out
}

// withReadiness is the backend's conditions with the readiness conditions
// in place of any of the same types.
func withReadiness(backend, readiness []metav1.Condition) []metav1.Condition {
	own := map[string]bool{}
	for _, c := range readiness {
		own[c.Type] = true
	}
	out := append([]metav1.Condition(nil), readiness...)
	for _, c := range backend {
		if !own[c.Type] {
			out = append(out, c)
		}
	}
	return out
}

// observedGeneration is what the backend reports, or else generation.
func observedGeneration(reported, generation int64) int64 {
	if reported > 0 {
		return reported
	}
	return generation
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
