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
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"kubevirt.io/client-go/kubevirt"
)

// controllerTimeout bounds waits for virt-controller and cdi-controller,
// which act on their informers' events but start several objects in a row.
const controllerTimeout = 2 * time.Minute

// waitProvisioned waits for what KubeVirt's and CDI's controllers make of a
// running VMInstance's VM: a DataVolume per dataVolumeTemplate, owned by the
// VM, with its PersistentVolumeClaim, and a VirtualMachineInstance. It
// fails on an UnauthorizedDataVolumeCreate event (the clone grant missing).
// Whatever needs a node (the VMI Running, IPs) does not come here.
func waitProvisioned(t *testing.T, c clients, kv kubevirt.Interface, ns, name string, disks []string) {
	t.Helper()
	ctx := context.Background()
	vm, err := kv.KubevirtV1().VirtualMachines(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, disk := range disks {
		dvName := name + "-" + disk
		eventuallyWithin(t, controllerTimeout, "virt-controller to create DataVolume "+dvName, func() (bool, string) {
			refusal := vmEvents(t, c, ns, name, "UnauthorizedDataVolumeCreate")
			if refusal != "" {
				t.Fatalf("KubeVirt refused the DataVolume: %s", refusal)
			}
			dv, err := c.cdi.CdiV1beta1().DataVolumes(ns).Get(ctx, dvName, metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			owner := metav1.GetControllerOf(dv)
			if owner == nil || owner.Kind != "VirtualMachine" || owner.UID != vm.UID {
				t.Fatalf("DataVolume %s is not controlled by the VM: %+v", dvName, dv.OwnerReferences)
			}
			return true, ""
		})
		eventuallyWithin(t, controllerTimeout, "cdi-controller to create the claim of "+dvName, func() (bool, string) {
			_, err := c.kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, dvName, metav1.GetOptions{})
			return err == nil, fmt.Sprint(err, " DataVolume phase ", dataVolumePhase(c, ns, dvName), vmEvents(t, c, ns, dvName, ""))
		})
	}
	eventuallyWithin(t, controllerTimeout, "virt-controller to create the VMI of "+name, func() (bool, string) {
		_, err := kv.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, name, metav1.GetOptions{})
		return err == nil, fmt.Sprint(err, "; VM events: ", vmEvents(t, c, ns, name, ""))
	})
}

// waitPhaseIsPrintableStatus waits until the VMInstance's phase is the
// printableStatus virt-controller wrote on its VM, and returns it.
func waitPhaseIsPrintableStatus(t *testing.T, c clients, kv kubevirt.Interface, ns, name string) string {
	t.Helper()
	ctx := context.Background()
	var phase string
	eventuallyWithin(t, controllerTimeout, "the VMInstance phase to be KubeVirt's printableStatus", func() (bool, string) {
		vm, err := kv.KubevirtV1().VirtualMachines(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		inst, err := c.apps.AppsV1alpha1().VMInstances(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		phase = string(vm.Status.PrintableStatus)
		return phase != "" && inst.Status.Phase == phase, fmt.Sprintf("printableStatus %q, phase %q", phase, inst.Status.Phase)
	})
	return phase
}

// waitNoVMI waits for virt-controller to remove a halted VM's VMI.
func waitNoVMI(t *testing.T, kv kubevirt.Interface, ns, name string) {
	t.Helper()
	eventuallyWithin(t, controllerTimeout, "virt-controller to remove the VMI of "+name, func() (bool, string) {
		_, err := kv.KubevirtV1().VirtualMachineInstances(ns).Get(context.Background(), name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
}

// vmEvents lists the events on an object named name (of any kind) with the
// reason (any if empty), as "reason: message" lines.
func vmEvents(t *testing.T, c clients, ns, name, reason string) string {
	t.Helper()
	selector := fields.Set{"involvedObject.name": name}
	if reason != "" {
		selector["reason"] = reason
	}
	list, err := c.kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: selector.String()})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range list.Items {
		lines = append(lines, e.Reason+": "+e.Message)
	}
	return strings.Join(lines, "\n")
}

func dataVolumePhase(c clients, ns, name string) string {
	dv, err := c.cdi.CdiV1beta1().DataVolumes(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return err.Error()
	}
	return string(dv.Status.Phase)
}
