//go:build ignore

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

// Command generate prints, as one multi-document YAML stream, what
// virt-operator installs for virt-api and virt-controller: KubeVirt's
// CustomResourceDefinitions, virt-api's admission webhook configurations and
// APIServices, and the RBAC of the cluster, virt-api, virt-controller and
// virt-handler.
// Every object comes from KubeVirt's own operator code, so the test harness
// installs the real schemas and webhook rules rather than copies.
//
// It is not part of vm-apiserver's module: hack/build-kubevirt-cdi.sh builds
// it in the KubeVirt tools module it generates (hence the ignore tag here).
package main

import (
	"flag"
	"fmt"
	"os"

	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"kubevirt.io/kubevirt/pkg/virt-operator/resource/generate/components"
	"kubevirt.io/kubevirt/pkg/virt-operator/resource/generate/rbac"
)

func main() {
	namespace := flag.String("namespace", "kubevirt", "namespace virt-api and virt-controller run in")
	flag.Parse()
	if err := run(*namespace); err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(1)
	}
}

func run(namespace string) error {
	// The CRDs virt-operator's install strategy creates.
	crdFuncs := []func() (*extv1.CustomResourceDefinition, error){
		components.NewVirtualMachineInstanceCrd, components.NewPresetCrd, components.NewReplicaSetCrd,
		components.NewVirtualMachineCrd, components.NewVirtualMachineInstanceMigrationCrd,
		components.NewVirtualMachineSnapshotCrd, components.NewVirtualMachineSnapshotContentCrd,
		components.NewVirtualMachineRestoreCrd, components.NewVirtualMachineInstancetypeCrd,
		components.NewVirtualMachineClusterInstancetypeCrd, components.NewVirtualMachinePoolCrd,
		components.NewMigrationPolicyCrd, components.NewVirtualMachinePreferenceCrd,
		components.NewVirtualMachineClusterPreferenceCrd, components.NewVirtualMachineExportCrd,
		components.NewVirtualMachineCloneCrd, components.NewKubeVirtCrd,
	}
	var objects []any
	for _, f := range crdFuncs {
		crd, err := f()
		if err != nil {
			return err
		}
		crd.APIVersion, crd.Kind = "apiextensions.k8s.io/v1", "CustomResourceDefinition"
		objects = append(objects, crd)
	}
	objects = append(objects,
		components.NewVirtAPIValidatingWebhookConfiguration(namespace),
		components.NewVirtAPIMutatingWebhookConfiguration(namespace))
	for _, s := range components.NewVirtAPIAPIServices(namespace) {
		objects = append(objects, s)
	}
	// virt-handler's too, though it does not run: tests write what it
	// reports with its identity (KubeVirt ignores VMI status from others).
	for _, list := range [][]runtime.Object{rbac.GetAllCluster(), rbac.GetAllApiServer(namespace), rbac.GetAllController(namespace), rbac.GetAllHandler(namespace)} {
		for _, o := range list {
			objects = append(objects, o)
		}
	}
	for _, o := range objects {
		data, err := yaml.Marshal(o)
		if err != nil {
			return err
		}
		fmt.Printf("---\n%s", data)
	}
	return nil
}
