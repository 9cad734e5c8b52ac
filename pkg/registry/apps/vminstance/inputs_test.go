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
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"
	kubevirtv1 "kubevirt.io/api/core/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
)

// vmDisk is the DataVolume of VMDisk name; edits change it.
func vmDisk(name string, edits ...func(*cdiv1.DataVolume)) *cdiv1.DataVolume {
	dv := &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: name,
		Labels: map[string]string{backendnames.KindLabel: backendnames.VMDiskKind}}}
	for _, edit := range edits {
		edit(dv)
	}
	return dv
}

func attaching(disk string) func(*apps.VMInstance) {
	return func(i *apps.VMInstance) { i.Spec.Disks = append(i.Spec.Disks, apps.VMInstanceDisk{Name: disk}) }
}

func TestAttachingAnOpticalVMDiskMakesItACDROM(t *testing.T) {
	iso := vmDisk("iso", func(dv *cdiv1.DataVolume) { dv.Annotations = map[string]string{backendnames.OpticalAnnotation: "true"} })
	c := newCluster(t, iso)
	c.create(t, instance("web", attaching("iso")))
	disks := c.vm(t, "web").Spec.Template.Spec.Domain.Devices.Disks
	if len(disks) < 2 || disks[1].Name != "iso" || disks[1].CDRom == nil || disks[1].CDRom.Bus != kubevirtv1.DiskBusSATA {
		t.Fatalf("want the VMDisk iso as a SATA CD-ROM, got %+v", disks)
	}
}

func TestAttachingAVMDiskTheUserMayNotReadIsForbidden(t *testing.T) {
	c := newCluster(t, vmDisk("data"))
	var asked *authorizationv1.SubjectAccessReviewSpec
	c.kube.PrependReactor("create", "subjectaccessreviews", func(a clienttesting.Action) (bool, runtime.Object, error) {
		review := a.(clienttesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		asked = &review.Spec
		return true, review, nil // not allowed
	})
	_, err := c.store.Create(asAlice(), instance("web", attaching("data")), nil, &metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `attaching VMDisk "data" needs get on vmdisks`) {
		t.Fatalf("want a 403 for the disk, got %v", err)
	}
	if asked == nil || asked.User != "alice" || asked.ResourceAttributes.Resource != "vmdisks" || asked.ResourceAttributes.Name != "data" {
		t.Fatalf("the review must ask about alice reading the VMDisk, got %+v", asked)
	}
	if w := c.writes(); len(w) != 0 {
		t.Fatalf("nothing may be written, got %v", w)
	}
}

func TestAttachingAVMDiskBeingDeletedIsInvalid(t *testing.T) {
	now := metav1.Now()
	c := newCluster(t, vmDisk("data", func(dv *cdiv1.DataVolume) { dv.DeletionTimestamp = &now }))
	_, err := c.store.Create(asAlice(), instance("web", attaching("data")), nil, &metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "being deleted") {
		t.Fatalf("want a 422 for the Terminating disk, got %v", err)
	}
}

func TestAttachingADataVolumeThatIsNotAVMDiskIsInvalid(t *testing.T) {
	c := newCluster(t, vmDisk("data", func(dv *cdiv1.DataVolume) { dv.Labels = nil }))
	_, err := c.store.Create(asAlice(), instance("web", attaching("data")), nil, &metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.disks[1].name") {
		t.Fatalf("want a 422 for spec.disks[1].name, got %v", err)
	}
}
