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

	"golang.org/x/sync/errgroup"
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
// naming the field and, for catalogue entries, what exists instead. The
// lookups read the cluster at once; their findings are reported in the
// order of the spec's fields.
func (v *virtualMachines) resolveInputs(ctx context.Context, inst *apps.VMInstance, current *kubevirtv1.VirtualMachine) (projection.VMInstanceInputs, error) {
	var in projection.VMInstanceInputs
	spec := field.NewPath("spec")
	var profileErr, preferenceErr, imageErr, typeErr *field.Error
	diskErrs := make([]*field.Error, len(inst.Spec.Disks))
	optical := make([]bool, len(inst.Spec.Disks))
	lookups, ctx := errgroup.WithContext(ctx)

	profile, ok := v.profiles.Lookup(inst.Spec.InstanceProfile)
	if !ok {
		profileErr = field.NotSupported(spec.Child("instanceProfile"), inst.Spec.InstanceProfile, v.profiles.Names())
	} else {
		in.Profile = profile
		lookups.Go(func() error {
			_, err := v.KubeVirt.InstancetypeV1beta1().VirtualMachineClusterPreferences().Get(ctx, profile.Preference, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				preferenceErr = field.Invalid(spec.Child("instanceProfile"), inst.Spec.InstanceProfile,
					fmt.Sprintf("its preference %q is not installed in the cluster", profile.Preference))
				return nil
			}
			return err
		})
		if root := firstInlineDisk(inst); root >= 0 && profile.Image != "" {
			lookups.Go(func() error {
				_, err := v.CDI.CdiV1beta1().DataSources(profile.ImagesNamespace).Get(ctx, profile.Image, metav1.GetOptions{})
				if apierrors.IsNotFound(err) {
					imageErr = field.Invalid(spec.Child("instanceProfile"), inst.Spec.InstanceProfile,
						fmt.Sprintf("its OS image (DataSource %s/%s) for the root disk %q does not exist", profile.ImagesNamespace, profile.Image, inst.Spec.Disks[root].Name))
					return nil
				}
				return err
			})
		}
	}

	if name := inst.Spec.InstanceType; name != "" {
		lookups.Go(func() error {
			typeSpec, err := v.instanceTypeSpec(ctx, name)
			if err != nil {
				return err
			}
			if typeSpec == nil {
				available, err := v.instanceTypeNames(ctx)
				if err != nil {
					return err
				}
				typeErr = field.NotSupported(field.NewPath("spec", "instanceType"), name, available)
			}
			in.InstanceType = typeSpec
			return nil
		})
	}

	for i, d := range inst.Spec.Disks {
		if d.Size != nil {
			continue
		}
		lookups.Go(func() (err error) {
			diskErrs[i], optical[i], err = v.attachableDisk(ctx, inst, current, d.Name, spec.Child("disks").Index(i).Child("name"))
			return err
		})
	}
	if err := lookups.Wait(); err != nil {
		return in, err
	}

	in.Optical = map[string]bool{}
	var errs field.ErrorList
	for _, err := range []*field.Error{profileErr, preferenceErr, imageErr, typeErr} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	for i, d := range inst.Spec.Disks {
		switch {
		case diskErrs[i] != nil:
			errs = append(errs, diskErrs[i])
		case d.Size == nil:
			in.Optical[d.Name] = optical[i]
		}
	}
	if len(errs) > 0 {
		return in, apierrors.NewInvalid(apps.Kind(backendnames.VMInstanceKind), inst.Name, errs)
	}
	return in, nil
}

// attachableDisk checks that the VMDisk name exists, is not going away
// (unless current has it attached already) and that the user may read it,
// as the VM will with the server's identity; it says whether the disk is
// optical.
func (v *virtualMachines) attachableDisk(ctx context.Context, inst *apps.VMInstance, current *kubevirtv1.VirtualMachine, name string, fldPath *field.Path) (*field.Error, bool, error) {
	dv, err := v.CDI.CdiV1beta1().DataVolumes(inst.Namespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err), err == nil && !backendnames.HasKind(dv.Labels, backendnames.VMDiskKind):
		return field.NotFound(fldPath, name), false, nil
	case err != nil:
		return nil, false, err
	}
	if fieldErr := vmdisk.RefuseAttachingDeleted(dv, current, fldPath); fieldErr != nil {
		return fieldErr, false, nil
	}
	allowed, err := backend.UserMay(ctx, v.Kube, authorizationv1.ResourceAttributes{
		Namespace: inst.Namespace, Verb: "get", Group: apps.GroupName, Resource: "vmdisks", Name: name,
	})
	if err != nil {
		return nil, false, err
	}
	if !allowed {
		return nil, false, apierrors.NewForbidden(apps.Resource("vminstances"), inst.Name,
			fmt.Errorf("attaching VMDisk %q needs get on vmdisks.%s in namespace %s", name, apps.GroupName, inst.Namespace))
	}
	return nil, dv.Annotations[backendnames.OpticalAnnotation] == "true", nil
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
