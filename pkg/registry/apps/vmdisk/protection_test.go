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
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kubevirtv1 "kubevirt.io/api/core/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
	"github.com/cozystack/vm-apiserver/pkg/projection"
)

const protection = backendnames.InUseProtectionFinalizer

func diskWith(deleted bool, finalizers ...string) *apps.VMDisk {
	d := &apps.VMDisk{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "ns", Finalizers: finalizers}}
	if deleted {
		now := metav1.Now()
		d.DeletionTimestamp = &now
	}
	return d
}

// TestStrategyKeepsProtection checks that creates get the finalizer and
// updates neither drop it nor add it to a disk being deleted.
func TestStrategyKeepsProtection(t *testing.T) {
	s := strategy{}
	created := diskWith(false, "example.com/mine")
	s.PrepareForCreate(context.Background(), created)
	if !slices.Equal(created.Finalizers, []string{"example.com/mine", protection}) {
		t.Fatalf("create: %v", created.Finalizers)
	}
	for _, tc := range []struct {
		name     string
		old, new *apps.VMDisk
		want     []string
	}{
		{"an update without it keeps it", diskWith(false, protection), diskWith(false), []string{protection}},
		{"a deleted disk keeps it", diskWith(true, protection), diskWith(true), []string{protection}},
		{"an old disk gets it", diskWith(false), diskWith(false, "example.com/mine"), []string{"example.com/mine", protection}},
		{"a deleted old disk does not", diskWith(true), diskWith(true, protection), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.PrepareForUpdate(context.Background(), tc.new, tc.old)
			if !slices.Equal(tc.new.Finalizers, tc.want) {
				t.Fatalf("finalizers %v, want %v", tc.new.Finalizers, tc.want)
			}
		})
	}
}

// TestTerminatingCondition checks the reason a deleted disk in use shows.
func TestTerminatingCondition(t *testing.T) {
	dv := &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "ns", Finalizers: []string{protection}}}
	dv.Spec.Source = &cdiv1.DataVolumeSource{Blank: &cdiv1.DataVolumeBlankImage{}}
	users := []string{"web", "db"}
	condition := func() *metav1.Condition {
		disk, err := diskWithUsers(dv, users)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range disk.Status.Conditions {
			if c.Type == projection.ConditionTerminating {
				return &c
			}
		}
		return nil
	}
	if c := condition(); c != nil {
		t.Fatalf("a live disk in use: %+v", c)
	}
	now := metav1.Now()
	dv.DeletionTimestamp = &now
	c := condition()
	if c == nil || c.Status != metav1.ConditionTrue || c.Reason != "InUse" || !strings.Contains(c.Message, "VMInstances web, db") {
		t.Fatalf("a deleted disk in use: %+v", c)
	}
	users = nil
	if c := condition(); c != nil {
		t.Fatalf("a deleted disk nothing uses: %+v", c)
	}
}

// TestRefuseAttachingDeleted checks that only a VMInstance that already
// attaches a deleted disk may keep it.
func TestRefuseAttachingDeleted(t *testing.T) {
	path := field.NewPath("spec", "disks").Index(0).Child("name")
	dv := &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: "data"}}
	if err := RefuseAttachingDeleted(dv, nil, path); err != nil {
		t.Fatalf("a live disk: %v", err)
	}
	now := metav1.Now()
	dv.DeletionTimestamp = &now
	if err := RefuseAttachingDeleted(dv, nil, path); err == nil || err.Field != "spec.disks[0].name" {
		t.Fatalf("creating with a deleted disk: %v", err)
	}
	vm := &kubevirtv1.VirtualMachine{Spec: kubevirtv1.VirtualMachineSpec{Template: &kubevirtv1.VirtualMachineInstanceTemplateSpec{}}}
	if err := RefuseAttachingDeleted(dv, vm, path); err == nil {
		t.Fatal("newly attaching a deleted disk on update should be refused")
	}
	vm.Spec.Template.Spec.Volumes = []kubevirtv1.Volume{{Name: "data", VolumeSource: kubevirtv1.VolumeSource{DataVolume: &kubevirtv1.DataVolumeSource{Name: "data"}}}}
	if err := RefuseAttachingDeleted(dv, vm, path); err != nil {
		t.Fatalf("keeping a deleted disk attached: %v", err)
	}
}
