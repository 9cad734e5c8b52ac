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

package vmdisk

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubevirtclient "kubevirt.io/client-go/kubevirt"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
)

// InlineDiskOwner is the VMInstance other than except whose inline disk has
// the DataVolume name dv, "" when none has: an inline disk's DataVolume may
// not exist yet (KubeVirt makes it from the VM's template), so the VMs that
// could claim the name are read.
func InlineDiskOwner(ctx context.Context, kubevirt kubevirtclient.Interface, namespace, dv, except string) (string, error) {
	for _, instance := range backendnames.DataVolumeClaimants(dv) {
		if instance == except {
			continue
		}
		vm, err := kubevirt.KubevirtV1().VirtualMachines(namespace).Get(ctx, instance, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("reading VirtualMachine %s/%s: %w", namespace, instance, err)
		}
		if !backendnames.HasKind(vm.Labels, backendnames.VMInstanceKind) {
			continue
		}
		for _, t := range vm.Spec.DataVolumeTemplates {
			if t.Name == dv {
				return instance, nil
			}
		}
	}
	return "", nil
}

// checkNotAnInlineDisk refuses (409) a VMDisk whose DataVolume name is
// already a VMInstance's inline disk ("web-root" while VMInstance "web" has
// the inline disk "root"), even before KubeVirt made that DataVolume: the
// VM would boot from the VMDisk.
func (d dataVolumes) checkNotAnInlineDisk(ctx context.Context, namespace, name string) error {
	owner, err := InlineDiskOwner(ctx, d.KubeVirt, namespace, name, "")
	if err != nil || owner == "" {
		return err
	}
	return apierrors.NewConflict(apps.Resource("vmdisks"), name,
		fmt.Errorf("the DataVolume %s/%s is already an inline disk of VMInstance %s: choose another name", namespace, name, owner))
}
