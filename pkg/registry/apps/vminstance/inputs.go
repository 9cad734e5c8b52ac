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
	"sort"

	authorizationv1 "k8s.io/api/authorization/v1"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/backend"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
	"github.com/cozystack/vm-apiserver/pkg/projection"
	"github.com/cozystack/vm-apiserver/pkg/registry/apps/vmdisk"
)

// resolveInputs looks up what a VMInstance refers to: its profile in the
// catalogue and the cluster preference, the instance type, the OS image of
// its root disk and the VMDisks it attaches. Anything missing is a 422
// naming the field and, for catalogue entries, what exists instead.
func (v *virtualMachines) resolveInputs(ctx context.Context, inst *apps.VMInstance, current *kubevirtv1.VirtualMachine) (projection.VMInstanceInputs, error) {
	var in projection.VMInstanceInputs
	var errs field.ErrorList
	spec := field.NewPath("spec")

	profile, ok := v.profiles.Lookup(inst.Spec.InstanceProfile)
	if !ok {
		errs = append(errs, field.NotSupported(spec.Child("instanceProfile"), inst.Spec.InstanceProfile, v.profiles.Names()))
	} else {
		in.Profile = profile
		_, err := v.KubeVirt.InstancetypeV1beta1().VirtualMachineClusterPreferences().Get(ctx, profile.Preference, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			errs = append(errs, field.Invalid(spec.Child("instanceProfile"), inst.Spec.InstanceProfile,
				fmt.Sprintf("its preference %q is not installed in the cluster", profile.Preference)))
		case err != nil:
			return in, err
		}
		if root := firstInlineDisk(inst); root >= 0 && profile.Image != "" {
			_, err := v.CDI.CdiV1beta1().DataSources(profile.ImagesNamespace).Get(ctx, profile.Image, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
				errs = append(errs, field.Invalid(spec.Child("instanceProfile"), inst.Spec.InstanceProfile,
					fmt.Sprintf("its OS image (DataSource %s/%s) for the root disk %q does not exist", profile.ImagesNamespace, profile.Image, inst.Spec.Disks[root].Name)))
			case err != nil:
				return in, err
			}
		}
	}

	if name := inst.Spec.InstanceType; name != "" {
		spec, err := v.instanceTypeSpec(ctx, name)
		if err != nil {
			return in, err
		}
		if spec == nil {
			available, err := v.instanceTypeNames(ctx)
			if err != nil {
				return in, err
			}
			errs = append(errs, field.NotSupported(field.NewPath("spec", "instanceType"), name, available))
		}
		in.InstanceType = spec
	}

	in.Optical = map[string]bool{}
	for i, d := range inst.Spec.Disks {
		if d.Size != nil {
			continue
		}
		dv, err := v.CDI.CdiV1beta1().DataVolumes(inst.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err), err == nil && !backendnames.HasKind(dv.Labels, backendnames.VMDiskKind):
			errs = append(errs, field.NotFound(spec.Child("disks").Index(i).Child("name"), d.Name))
		case err != nil:
			return in, err
		default:
			if err := vmdisk.RefuseAttachingDeleted(dv, current, spec.Child("disks").Index(i).Child("name")); err != nil {
				errs = append(errs, err)
			}
			in.Optical[d.Name] = dv.Annotations[backendnames.OpticalAnnotation] == "true"
			// The VM will read the disk with the server's identity: the user
			// must be allowed to read it themselves.
			allowed, err := backend.UserMay(ctx, v.Kube, authorizationv1.ResourceAttributes{
				Namespace: inst.Namespace, Verb: "get", Group: apps.GroupName, Resource: "vmdisks", Name: d.Name,
			})
			if err != nil {
				return in, err
			}
			if !allowed {
				return in, apierrors.NewForbidden(apps.Resource("vminstances"), inst.Name,
					fmt.Errorf("attaching VMDisk %q needs get on vmdisks.%s in namespace %s", d.Name, apps.GroupName, inst.Namespace))
			}
		}
	}
	if len(errs) > 0 {
		return in, apierrors.NewInvalid(apps.Kind(backendnames.VMInstanceKind), inst.Name, errs)
	}
	return in, nil
}

func firstInlineDisk(inst *apps.VMInstance) int {
	for i, d := range inst.Spec.Disks {
		if d.Size != nil {
			return i
		}
	}
	return -1
}

func (v *virtualMachines) instanceTypeNames(ctx context.Context) ([]string, error) {
	list, err := v.KubeVirt.InstancetypeV1beta1().VirtualMachineClusterInstancetypes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(list.Items))
	for _, it := range list.Items {
		names = append(names, it.Name)
	}
	sort.Strings(names)
	return names, nil
}
