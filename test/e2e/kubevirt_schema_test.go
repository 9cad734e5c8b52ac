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

package e2e

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/catalogue"
	"github.com/cozystack/vm-apiserver/pkg/projection"
)

// TestVirtualMachinesSurviveKubeVirtSchemas shows that every field
// vm-apiserver writes into a VirtualMachine survives the CRD schema of the
// KubeVirt the tests run (v1.7.0), though vm-apiserver is built against a
// newer kubevirt.io/api: the VMs of representative VMInstances are created
// (dry run) with strict field validation, which refuses any field the
// schema does not know instead of dropping it, and pass KubeVirt's webhooks.
func TestVirtualMachinesSurviveKubeVirtSchemas(t *testing.T) {
	c := newClients(t)
	kv := kubevirtClient(t)
	ns := newNamespace(t, c)
	ctx := context.Background()
	q := func(s string) *resource.Quantity { v := resource.MustParse(s); return &v }
	running := true
	medium, err := kv.InstancetypeV1beta1().VirtualMachineClusterInstancetypes().Get(ctx, "u1.medium", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	shapes := map[string]struct {
		spec   apps.VMInstanceSpec
		inputs projection.VMInstanceInputs
	}{
		"production": {
			spec: apps.VMInstanceSpec{
				Running: &running, InstanceType: "cx1.large", InstanceProfile: "ubuntu",
				Disks: []apps.VMInstanceDisk{
					{Name: "root-disk", Size: q("50Gi"), StorageClass: "replicated"},
					{Name: "app-data", Size: q("200Gi"), StorageClass: "local", Bus: "scsi"},
				},
				External:      true,
				ExternalPorts: []apps.ExternalPort{{Port: 22, Protocol: "TCP"}, {Port: 53, Protocol: "UDP", TargetPort: 5353}},
				SSHKeys:       []string{sshKey(t)},
				CloudInit:     "#cloud-config\npackages: [nginx]\n",
			},
			inputs: projection.VMInstanceInputs{Profile: catalogue.Default()["ubuntu"]},
		},
		"resources over an instance type, ports kept while internal": {
			spec: apps.VMInstanceSpec{
				Running: &running, InstanceType: "u1.medium", InstanceProfile: "ubuntu",
				Resources:     &apps.VMResources{CPU: q("4"), Memory: q("16Gi")},
				ExternalPorts: []apps.ExternalPort{{Port: 80, Protocol: "TCP"}},
			},
			inputs: projection.VMInstanceInputs{Profile: catalogue.Default()["ubuntu"], InstanceType: &medium.Spec},
		},
	}
	for name, shape := range shapes {
		t.Run(name, func(t *testing.T) {
			inst := &apps.VMInstance{ObjectMeta: metav1.ObjectMeta{Name: "schema", Namespace: ns}, Spec: shape.spec}
			backend, err := projection.VMInstanceBackendFor(inst, nil, shape.inputs)
			if err != nil {
				t.Fatal(err)
			}
			_, err = kv.KubevirtV1().VirtualMachines(ns).Create(ctx, backend.VM, metav1.CreateOptions{
				DryRun: []string{metav1.DryRunAll}, FieldValidation: metav1.FieldValidationStrict,
			})
			if err != nil {
				t.Fatalf("KubeVirt %s does not take the VM as written: %v", "v1.7.0", err)
			}
		})
	}
}
