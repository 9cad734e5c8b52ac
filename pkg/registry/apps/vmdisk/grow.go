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
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
	"github.com/cozystack/vm-apiserver/pkg/projection"
)

// updateGrowing writes dv, which grows the disk, over current: the claim
// CDI made must be able to grow (it exists, is bound, and kube-apiserver
// accepts the new size in a dry run, which checks the storage class allows
// expansion); then the DataVolume records the size under the client's
// resourceVersion, and the claim is expanded. A claim write that fails
// after all takes the DataVolume's record back.
func (d dataVolumes) updateGrowing(ctx context.Context, dv, current *cdiv1.DataVolume, dryRun []string) (*cdiv1.DataVolume, error) {
	size := *projection.DiskStorage(dv)
	claims := d.Kube.CoreV1().PersistentVolumeClaims(dv.Namespace)
	claim, err := claims.Get(ctx, projection.ClaimName(current), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, apierrors.NewConflict(apps.Resource("vmdisks"), dv.Name,
			fmt.Errorf("CDI has not made the disk's PersistentVolumeClaim %s yet, and the disk grows by expanding it; try again in a moment", projection.ClaimName(current)))
	}
	if err != nil {
		return nil, err
	}
	grown, err := grownClaim(dv.Name, claim, size)
	if err != nil {
		return nil, err
	}
	if grown == nil {
		// The claim has the size already (grown by hand): record it.
		return d.CDI.CdiV1beta1().DataVolumes(dv.Namespace).Update(ctx, dv, metav1.UpdateOptions{DryRun: dryRun})
	}
	if _, err := claims.Update(ctx, grown, metav1.UpdateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		return nil, claimRefusal(dv.Name, claim.Name, err)
	}
	out, err := d.CDI.CdiV1beta1().DataVolumes(dv.Namespace).Update(ctx, dv, metav1.UpdateOptions{DryRun: dryRun})
	if err != nil || len(dryRun) > 0 {
		return out, err
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		_, err := claims.Update(ctx, grown, metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) {
			return err
		}
		// Another writer (CDI, the resizer) moved the claim: grow the
		// claim as it is now.
		latest, getErr := claims.Get(ctx, claim.Name, metav1.GetOptions{})
		if getErr != nil {
			return getErr
		}
		if grown, getErr = grownClaim(dv.Name, latest, size); getErr != nil {
			return getErr
		}
		if grown == nil {
			return nil
		}
		return err
	})
	if err != nil {
		d.forgetGrowth(out, current)
		return nil, claimRefusal(dv.Name, claim.Name, err)
	}
	return out, nil
}

// grownClaim is projection.GrownClaim with its refusal as a 422 about
// spec.storage.
func grownClaim(disk string, claim *corev1.PersistentVolumeClaim, size resource.Quantity) (*corev1.PersistentVolumeClaim, error) {
	grown, err := projection.GrownClaim(claim, size)
	var refused *projection.GrowthRefused
	if errors.As(err, &refused) {
		return nil, storageInvalid(disk, size, refused.Reason)
	}
	return grown, err
}

// claimRefusal speaks of kube-apiserver's refusal to expand the claim (the
// storage class does not allow expansion, the claim is not bound) as a 422
// about spec.storage; other errors pass.
func claimRefusal(disk, claim string, err error) error {
	if apierrors.IsForbidden(err) || apierrors.IsInvalid(err) {
		return apierrors.NewInvalid(vmDiskKind, disk, field.ErrorList{
			field.Forbidden(field.NewPath("spec", "storage"), fmt.Sprintf("Kubernetes refused to expand the disk's PersistentVolumeClaim %s: %v", claim, err)),
		})
	}
	return err
}

func storageInvalid(disk string, size resource.Quantity, reason string) error {
	return apierrors.NewInvalid(vmDiskKind, disk, field.ErrorList{
		field.Forbidden(field.NewPath("spec", "storage"), fmt.Sprintf("cannot grow to %s: %s", size.String(), reason)),
	})
}

// forgetGrowth takes back the grown size written on the DataVolume out when
// the claim could not follow, so that the VMDisk does not show a size its
// volume never got.
func (d dataVolumes) forgetGrowth(out, current *cdiv1.DataVolume) {
	ctx := context.Background()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		latest, err := d.CDI.CdiV1beta1().DataVolumes(out.Namespace).Get(ctx, out.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if latest.UID != out.UID || latest.Annotations[backendnames.GrownStorageAnnotation] != out.Annotations[backendnames.GrownStorageAnnotation] {
			return nil
		}
		if was, ok := current.Annotations[backendnames.GrownStorageAnnotation]; ok {
			latest.Annotations[backendnames.GrownStorageAnnotation] = was
		} else {
			delete(latest.Annotations, backendnames.GrownStorageAnnotation)
		}
		_, err = d.CDI.CdiV1beta1().DataVolumes(out.Namespace).Update(ctx, latest, metav1.UpdateOptions{})
		return err
	})
	if err != nil && !apierrors.IsNotFound(err) {
		klog.ErrorS(err, "Could not take back the grown size of a VMDisk whose claim did not grow", "namespace", out.Namespace, "name", out.Name)
	}
}

var vmDiskKind = apps.Kind(backendnames.VMDiskKind)
