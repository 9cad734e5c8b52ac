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

package validation

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
)

func TestValidateVMInstanceUpdate(t *testing.T) {
	cases := []struct {
		name      string
		change    func(*apps.VMInstance)
		wantType  field.ErrorType
		wantField string // "" for an allowed change
	}{
		{"grow an inline disk", func(vm *apps.VMInstance) { vm.Spec.Disks[0].Size = qty("60Gi") }, "", ""},
		{"the same size written another way", func(vm *apps.VMInstance) {
			vm.Spec.Disks[1].Size = resource.NewQuantity(200<<30, resource.BinarySI)
		}, "", ""},
		{"stop, resize, re-type and reconfigure", func(vm *apps.VMInstance) {
			running := false
			vm.Spec.Running = &running
			vm.Spec.InstanceType = "u1.xlarge"
			vm.Spec.External = false
			vm.Spec.ExternalPorts = nil
			vm.Spec.SSHKeys = vm.Spec.SSHKeys[:1]
			vm.Spec.CloudInit = "#cloud-config\npackages: [nginx]\n"
			vm.Labels = map[string]string{"app": "web"}
		}, "", ""},
		{"add a disk, drop another, reorder", func(vm *apps.VMInstance) {
			vm.Spec.Disks = []apps.VMInstanceDisk{
				{Name: "logs", Size: qty("10Gi"), StorageClass: "local"},
				vm.Spec.Disks[0],
				{Name: "shared"},
			}
		}, "", ""},
		{"turn an inline disk into an attachment", func(vm *apps.VMInstance) {
			vm.Spec.Disks[1] = apps.VMInstanceDisk{Name: "app-data"}
		}, "", ""},
		{"shrink an inline disk", func(vm *apps.VMInstance) { vm.Spec.Disks[1].Size = qty("100Gi") },
			field.ErrorTypeForbidden, "spec.disks[1].size"},
		{"shrink an inline disk that moved in the list", func(vm *apps.VMInstance) {
			vm.Spec.Disks[0], vm.Spec.Disks[1] = vm.Spec.Disks[1], vm.Spec.Disks[0]
			vm.Spec.Disks[1].Size = qty("40Gi") // root-disk, now second
		}, field.ErrorTypeForbidden, "spec.disks[1].size"},
		{"change an inline disk's storage class", func(vm *apps.VMInstance) { vm.Spec.Disks[0].StorageClass = "local" },
			field.ErrorTypeInvalid, "spec.disks[0].storageClass"},
		{"rename", func(vm *apps.VMInstance) { vm.Name = "other" },
			field.ErrorTypeInvalid, "metadata.name"},
		{"spec rules still hold", func(vm *apps.VMInstance) { vm.Spec.ExternalPorts[2].Port = 0 },
			field.ErrorTypeInvalid, "spec.externalPorts[2].port"},
		{"new disks still get a storage class", func(vm *apps.VMInstance) {
			vm.Spec.Disks = append(vm.Spec.Disks, apps.VMInstanceDisk{Name: "logs", Size: qty("1Gi")})
		}, field.ErrorTypeRequired, "spec.disks[2].storageClass"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old := productionVM()
			old.ResourceVersion = "7"
			vm := productionVM()
			vm.ResourceVersion = "7"
			vm.Spec.SSHKeys, vm.Spec.CloudInit = old.Spec.SSHKeys, old.Spec.CloudInit
			tc.change(vm)
			errs := ValidateVMInstanceUpdate(vm, old)
			if tc.wantField == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				return
			}
			if len(errs) == 0 {
				t.Fatalf("want a %s error on %s, got none", tc.wantType, tc.wantField)
			}
			for _, e := range errs {
				if e.Field != tc.wantField || e.Type != tc.wantType {
					t.Fatalf("want only %s errors on %s, got %v", tc.wantType, tc.wantField, errs)
				}
			}
		})
	}
}
