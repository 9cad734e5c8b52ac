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

package projection

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubevirtv1 "kubevirt.io/api/core/v1"
	instancetypev1beta1 "kubevirt.io/api/instancetype/v1beta1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
	"github.com/cozystack/vm-apiserver/pkg/catalogue"
)

var cx1Large = &instancetypev1beta1.VirtualMachineInstancetypeSpec{
	CPU: instancetypev1beta1.CPUInstancetype{
		Guest: 4, DedicatedCPUPlacement: ptr(true), IsolateEmulatorThread: ptr(true),
		NUMA: &kubevirtv1.NUMA{GuestMappingPassthrough: &kubevirtv1.NUMAGuestMappingPassthrough{}},
	},
	Memory: instancetypev1beta1.MemoryInstancetype{Guest: resource.MustParse("8Gi"), Hugepages: &kubevirtv1.Hugepages{PageSize: "2Mi"}},
}

func ptr[T any](v T) *T { return &v }

// randomVMInstance is a valid, defaulted VMInstance drawn from r, and which
// of its attached disks are optical.
func randomVMInstance(r *rand.Rand) (*apps.VMInstance, map[string]bool) {
	inst := &apps.VMInstance{ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "ns", ResourceVersion: "7"}}
	if r.IntN(2) == 0 {
		inst.Labels = map[string]string{"app": fmt.Sprint(r.IntN(5))}
	}
	spec := &inst.Spec
	spec.Running = ptr(r.IntN(2) == 0)
	spec.InstanceType = "cx1.large"
	spec.InstanceProfile = []string{"ubuntu", "windows-11", "alpine"}[r.IntN(3)]
	switch r.IntN(4) {
	case 1:
		spec.Resources = &apps.VMResources{CPU: resource.NewQuantity(int64(1+r.IntN(16)), resource.DecimalSI)}
	case 2:
		spec.Resources = &apps.VMResources{Memory: ptr(resource.MustParse(fmt.Sprintf("%dGi", 1+r.IntN(64))))}
	case 3:
		spec.InstanceType = ""
		spec.Resources = &apps.VMResources{CPU: resource.NewQuantity(2, resource.DecimalSI), Memory: ptr(resource.MustParse("3Gi"))}
	}
	optical := map[string]bool{}
	for i := range r.IntN(4) {
		d := apps.VMInstanceDisk{Name: fmt.Sprintf("disk-%d", i), Bus: []string{"", "virtio", "scsi"}[r.IntN(3)]}
		if r.IntN(2) == 0 {
			d.Size = ptr(resource.MustParse(fmt.Sprintf("%dGi", 1+r.IntN(100))))
			d.StorageClass = []string{"replicated", "local"}[r.IntN(2)]
		} else if r.IntN(2) == 0 {
			optical[d.Name] = true
			if d.Bus == "virtio" {
				d.Bus = ""
			}
		}
		spec.Disks = append(spec.Disks, d)
	}
	spec.External = r.IntN(2) == 0
	for i := range r.IntN(3) {
		proto := []string{"TCP", "UDP"}[r.IntN(2)]
		spec.ExternalPorts = append(spec.ExternalPorts, apps.ExternalPort{Port: int32(20 + i), Protocol: proto, TargetPort: int32(1000 + r.IntN(100))})
	}
	for i := range r.IntN(3) {
		spec.SSHKeys = append(spec.SSHKeys, fmt.Sprintf("ssh-ed25519 AAAA%d user%d@host", i, i))
	}
	if r.IntN(2) == 0 {
		spec.CloudInit = "#cloud-config\npackages: [nginx]\n"
	}
	return inst, optical
}

// TestVMInstanceRoundTrip writes random VMInstances to backend objects and
// reads them back: the spec and metadata must be those written.
func TestVMInstanceRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		assertVMInstanceRoundTrip(t, r)
	}
}

// FuzzVMInstanceRoundTrip is the same property under the coverage-guided
// fuzzer (go test -fuzz=FuzzVMInstanceRoundTrip ./pkg/projection).
func FuzzVMInstanceRoundTrip(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Add(uint64(42), uint64(7))
	f.Fuzz(func(t *testing.T, seed1, seed2 uint64) {
		assertVMInstanceRoundTrip(t, rand.New(rand.NewPCG(seed1, seed2)))
	})
}

func assertVMInstanceRoundTrip(t *testing.T, r *rand.Rand) {
	t.Helper()
	inst, optical := randomVMInstance(r)
	profile, _ := catalogue.Default().Lookup(inst.Spec.InstanceProfile)
	b, err := VMInstanceBackendFor(inst, nil, VMInstanceInputs{Profile: profile, InstanceType: cx1Large, Optical: optical})
	if err != nil {
		t.Fatal(err)
	}
	back, err := VMInstanceFrom(b, cx1Large)
	if err != nil {
		t.Fatal(err)
	}
	back.Status = apps.VMInstanceStatus{}
	if diff := cmp.Diff(inst, back, cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })); diff != "" {
		t.Fatalf("round trip changed the VMInstance (-written +read):\n%s", diff)
	}
}

// TestVMInstanceBackendObjects checks the backend objects of the
// reference's production VM.
func TestVMInstanceBackendObjects(t *testing.T) {
	inst := &apps.VMInstance{
		ObjectMeta: metav1.ObjectMeta{Name: "production-web-server", Namespace: "production"},
		Spec: apps.VMInstanceSpec{
			Running: ptr(true), External: true, InstanceType: "cx1.large", InstanceProfile: "ubuntu",
			ExternalPorts: []apps.ExternalPort{{Port: 22, Protocol: "TCP", TargetPort: 22}, {Port: 80, Protocol: "TCP", TargetPort: 80}},
			Disks: []apps.VMInstanceDisk{
				{Name: "root-disk", Size: ptr(resource.MustParse("50Gi")), StorageClass: "replicated"},
				{Name: "app-data", Size: ptr(resource.MustParse("200Gi")), StorageClass: "local"},
				{Name: "installer"},
			},
			SSHKeys:   []string{"ssh-ed25519 AAAA admin@company.com"},
			CloudInit: "#cloud-config\n",
		},
	}
	profile, _ := catalogue.Default().Lookup("ubuntu")
	b, err := VMInstanceBackendFor(inst, nil, VMInstanceInputs{Profile: profile, Optical: map[string]bool{"installer": true}})
	if err != nil {
		t.Fatal(err)
	}
	vm := b.VM
	if *vm.Spec.RunStrategy != kubevirtv1.RunStrategyAlways || vm.Spec.Instancetype.Name != "cx1.large" || vm.Spec.Preference.Name != "ubuntu" {
		t.Errorf("vm spec: %+v", vm.Spec)
	}
	root := vm.Spec.DataVolumeTemplates[0]
	if root.Name != "production-web-server-root-disk" || root.Spec.SourceRef == nil || root.Spec.SourceRef.Name != "ubuntu" ||
		*root.Spec.SourceRef.Namespace != catalogue.DefaultImagesNamespace || root.Spec.Storage.Resources.Requests.Storage().String() != "50Gi" {
		t.Errorf("root disk template: %+v", root)
	}
	if data := vm.Spec.DataVolumeTemplates[1]; data.Name != "production-web-server-app-data" || data.Spec.Source.Blank == nil ||
		*data.Spec.Storage.StorageClassName != "local" {
		t.Errorf("data disk template: %+v", data)
	}
	disks := vm.Spec.Template.Spec.Domain.Devices.Disks
	if disks[2].CDRom == nil || disks[2].CDRom.Bus != kubevirtv1.DiskBusSATA || *disks[2].BootOrder != 3 {
		t.Errorf("optical disk: %+v", disks[2])
	}
	if vm.Spec.Template.ObjectMeta.Labels[backendnames.InstanceLabel] != "production-web-server" {
		t.Errorf("template labels: %v", vm.Spec.Template.ObjectMeta.Labels)
	}
	svc := b.Service
	if svc.Name != "production-web-server" || svc.Spec.Type != corev1.ServiceTypeLoadBalancer ||
		svc.Spec.Selector[backendnames.InstanceLabel] != "production-web-server" || len(svc.Spec.Ports) != 2 || svc.Spec.Ports[1].Port != 80 {
		t.Errorf("service: %+v", svc)
	}
	if b.CloudInit.Name != "production-web-server-cloud-init" || b.SSHKeys.Name != "production-web-server-ssh-keys" ||
		string(b.SSHKeys.Data["key0"]) != "ssh-ed25519 AAAA admin@company.com" {
		t.Errorf("secrets: %+v %+v", b.CloudInit, b.SSHKeys)
	}
	creds := vm.Spec.Template.Spec.AccessCredentials
	if len(creds) != 1 || creds[0].SSHPublicKey.PropagationMethod.NoCloud == nil {
		t.Errorf("access credentials: %+v", creds)
	}
}

// TestVMInstanceResourcesExpandInstanceType checks that overriding one
// field keeps the type's other settings.
func TestVMInstanceResourcesExpandInstanceType(t *testing.T) {
	inst := &apps.VMInstance{ObjectMeta: metav1.ObjectMeta{Name: "vm"}, Spec: apps.VMInstanceSpec{
		InstanceType: "cx1.large", InstanceProfile: "ubuntu", Resources: &apps.VMResources{CPU: resource.NewQuantity(6, resource.DecimalSI)},
	}}
	b, err := VMInstanceBackendFor(inst, nil, VMInstanceInputs{Profile: catalogue.Profile{Preference: "ubuntu"}, InstanceType: cx1Large})
	if err != nil {
		t.Fatal(err)
	}
	domain := b.VM.Spec.Template.Spec.Domain
	if b.VM.Spec.Instancetype != nil || domain.CPU.Sockets != 6 || !domain.CPU.DedicatedCPUPlacement || domain.CPU.NUMA == nil ||
		domain.Memory.Guest.String() != "8Gi" || domain.Memory.Hugepages.PageSize != "2Mi" {
		t.Fatalf("expanded domain: %+v %+v", domain.CPU, domain.Memory)
	}
}

// TestVMInstanceReadsBackendChanges checks that a VM stopped outside the API
// (virtctl stop sets runStrategy Halted) reads as not running, and that
// other run strategies read as running.
func TestVMInstanceReadsBackendChanges(t *testing.T) {
	inst := &apps.VMInstance{ObjectMeta: metav1.ObjectMeta{Name: "vm"}, Spec: apps.VMInstanceSpec{Running: ptr(true), InstanceType: "u1.medium", InstanceProfile: "ubuntu"}}
	b, err := VMInstanceBackendFor(inst, nil, VMInstanceInputs{Profile: catalogue.Profile{Preference: "ubuntu"}})
	if err != nil {
		t.Fatal(err)
	}
	for strategy, want := range map[kubevirtv1.VirtualMachineRunStrategy]bool{
		kubevirtv1.RunStrategyHalted: false, kubevirtv1.RunStrategyManual: true, kubevirtv1.RunStrategyRerunOnFailure: true,
	} {
		b.VM.Spec.RunStrategy = &strategy
		got, err := VMInstanceFrom(b, nil)
		if err != nil {
			t.Fatal(err)
		}
		if *got.Spec.Running != want {
			t.Errorf("runStrategy %s reads as running=%v", strategy, *got.Spec.Running)
		}
	}
}

// TestRunningFollowsTheRunStrategyOrElseTheLegacyField pins the one rule
// both the projection and the recorded Started/Stopped events use.
func TestRunningFollowsTheRunStrategyOrElseTheLegacyField(t *testing.T) {
	halted, always := kubevirtv1.RunStrategyHalted, kubevirtv1.RunStrategyAlways
	cases := []struct {
		name string
		spec kubevirtv1.VirtualMachineSpec
		want bool
	}{
		{"neither", kubevirtv1.VirtualMachineSpec{}, true},
		{"legacy running", kubevirtv1.VirtualMachineSpec{Running: ptr(true)}, true},
		{"legacy stopped", kubevirtv1.VirtualMachineSpec{Running: ptr(false)}, false},
		{"halted", kubevirtv1.VirtualMachineSpec{RunStrategy: &halted}, false},
		{"run strategy over the legacy field", kubevirtv1.VirtualMachineSpec{RunStrategy: &always, Running: ptr(false)}, true},
	}
	for _, tc := range cases {
		if got := Running(&kubevirtv1.VirtualMachine{Spec: tc.spec}); got != tc.want {
			t.Errorf("%s: running=%v", tc.name, got)
		}
	}
}

// TestVMInstanceResourceVersionIsTheVMs checks that a VMInstance's
// resourceVersion is its VM's, whatever the versions of the objects joined
// to it: their changes reach the VMInstance by being recorded on the VM.
func TestVMInstanceResourceVersionIsTheVMs(t *testing.T) {
	inst := &apps.VMInstance{ObjectMeta: metav1.ObjectMeta{Name: "vm"}, Spec: apps.VMInstanceSpec{
		Running: ptr(true), InstanceType: "u1.medium", InstanceProfile: "ubuntu", External: true,
		ExternalPorts: []apps.ExternalPort{{Port: 22, Protocol: "TCP"}}, SSHKeys: []string{"ssh-ed25519 AAAA a@b"},
	}}
	b, err := VMInstanceBackendFor(inst, nil, VMInstanceInputs{Profile: catalogue.Profile{Preference: "ubuntu"}})
	if err != nil {
		t.Fatal(err)
	}
	b.VMI = &kubevirtv1.VirtualMachineInstance{}
	for _, tc := range []struct {
		vm, service, sshKeys, vmi string
	}{
		{vm: "10", service: "7", sshKeys: "9", vmi: "8"},
		{vm: "10", service: "12", sshKeys: "9", vmi: "8"},
		{vm: "10", service: "7", sshKeys: "9", vmi: "15"},
		{vm: "opaque", service: "12", sshKeys: "9", vmi: "8"},
	} {
		b.VM.ResourceVersion, b.Service.ResourceVersion, b.SSHKeys.ResourceVersion, b.VMI.ResourceVersion = tc.vm, tc.service, tc.sshKeys, tc.vmi
		got, err := VMInstanceFrom(b, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got.ResourceVersion != tc.vm {
			t.Errorf("%+v: resourceVersion %s", tc, got.ResourceVersion)
		}
	}
}

// TestANewVMCarriesTheAPIVersionVirtControllerRecords checks that a created
// VM already has the record virt-controller would otherwise write in an
// update of its own, and that an update leaves the record as the backend
// has it.
func TestANewVMCarriesTheAPIVersionVirtControllerRecords(t *testing.T) {
	inst := &apps.VMInstance{ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "ns", Annotations: map[string]string{
		kubevirtv1.ControllerAPIStorageVersionObservedAnnotation: "v1alpha3",
	}}, Spec: apps.VMInstanceSpec{Running: ptr(true), InstanceProfile: "ubuntu"}}
	in := VMInstanceInputs{Profile: catalogue.Profile{Preference: "ubuntu"}}
	created, err := VMInstanceBackendFor(inst, nil, in)
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		kubevirtv1.ControllerAPILatestVersionObservedAnnotation:  kubevirtv1.ApiLatestVersion,
		kubevirtv1.ControllerAPIStorageVersionObservedAnnotation: kubevirtv1.ApiStorageVersion,
	} {
		if got := created.VM.Annotations[key]; got != want {
			t.Errorf("created VM: %s is %q, want %q", key, got, want)
		}
	}
	public, err := VMInstanceFrom(created, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(public.Annotations) != 0 {
		t.Errorf("the record is the backend's, not shown: %v", public.Annotations)
	}

	existing := created.VM.DeepCopy()
	existing.Annotations = map[string]string{kubevirtv1.ControllerAPILatestVersionObservedAnnotation: "v2"}
	updated, err := VMInstanceBackendFor(inst, existing, in)
	if err != nil {
		t.Fatal(err)
	}
	if got := updated.VM.Annotations; got[kubevirtv1.ControllerAPILatestVersionObservedAnnotation] != "v2" ||
		got[kubevirtv1.ControllerAPIStorageVersionObservedAnnotation] != "" {
		t.Errorf("an update keeps the backend's record as it is, got %v", got)
	}
}
