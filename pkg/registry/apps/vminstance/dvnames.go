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
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
	"github.com/cozystack/vm-apiserver/pkg/registry/apps/vmdisk"
)

// checkDataVolumeNames refuses (409) a new inline disk whose DataVolume
// name is another object's: an existing DataVolume that is not this
// VMInstance's (a VMDisk's, another VMInstance's, one vm-apiserver does not
// manage), or another VMInstance's inline disk of the same DataVolume name
// ("a" with disk "b-c" and "a-b" with disk "c" both make "a-b-c"). The VM
// would otherwise boot from another object's disk. current is the VM on
// update, nil on create.
func (v *virtualMachines) checkDataVolumeNames(ctx context.Context, inst *apps.VMInstance, current *kubevirtv1.VirtualMachine) error {
	own := map[string]bool{}
	if current != nil {
		for _, t := range current.Spec.DataVolumeTemplates {
			own[t.Name] = true
		}
	}
	for _, d := range inst.Spec.Disks {
		name := backendnames.DiskDataVolumeName(inst.Name, d.Name)
		if d.Size == nil || own[name] {
			continue
		}
		dv, err := v.CDI.CdiV1beta1().DataVolumes(inst.Namespace).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return fmt.Errorf("reading DataVolume %s/%s: %w", inst.Namespace, name, err)
		case dv.Labels[backendnames.InstanceLabel] == inst.Name:
			// Made from this VMInstance's template before: its own disk,
			// left by a delete that orphaned it.
		default:
			return conflict(inst.Name, fmt.Errorf("disk %q needs the DataVolume %s/%s, which already exists as %s: rename the disk",
				d.Name, inst.Namespace, name, describeDataVolume(dv.Labels)))
		}
		owner, err := vmdisk.InlineDiskOwner(ctx, v.KubeVirt, inst.Namespace, name, inst.Name)
		if err != nil {
			return err
		}
		if owner != "" {
			return conflict(inst.Name, fmt.Errorf("disk %q needs the DataVolume %s/%s, which is already an inline disk of VMInstance %s: rename the disk",
				d.Name, inst.Namespace, name, owner))
		}
	}
	return nil
}

// describeDataVolume says whose a DataVolume is, by its labels.
func describeDataVolume(labels map[string]string) string {
	switch {
	case backendnames.HasKind(labels, backendnames.VMDiskKind):
		return "a VMDisk"
	case labels[backendnames.InstanceLabel] != "":
		return "a disk of VMInstance " + labels[backendnames.InstanceLabel]
	}
	return "a DataVolume vm-apiserver does not manage"
}
