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
