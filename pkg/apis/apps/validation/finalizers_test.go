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

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
)

// TestReservedFinalizers checks that a VMDisk may carry vm-apiserver's
// in-use protection finalizer (it shows it, so clients send it back) but no
// other reserved one, and a VMInstance none.
func TestReservedFinalizers(t *testing.T) {
	disk := validDisk()
	disk.Finalizers = []string{"example.com/mine", backendnames.InUseProtectionFinalizer}
	if errs := ValidateVMDisk(disk); len(errs) != 0 {
		t.Fatalf("the protection finalizer on a VMDisk: %v", errs)
	}
	if errs := ValidateVMDiskUpdate(disk, validDisk()); len(errs) != 0 {
		t.Fatalf("the protection finalizer on a VMDisk update: %v", errs)
	}
	disk.Finalizers = []string{backendnames.ReservedPrefix + "other"}
	if errs := ValidateVMDisk(disk); len(errs) != 1 || errs[0].Field != "metadata.finalizers[0]" {
		t.Fatalf("another reserved finalizer: %v", errs)
	}
	inst := &apps.VMInstance{}
	inst.Name, inst.Namespace = "web", "ns"
	inst.Finalizers = []string{backendnames.InUseProtectionFinalizer}
	found := false
	for _, err := range ValidateVMInstance(inst) {
		found = found || err.Field == "metadata.finalizers[0]"
	}
	if !found {
		t.Fatal("a VMInstance may not carry the VMDisk protection finalizer")
	}
}
