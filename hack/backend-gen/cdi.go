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

// Command generate prints, as one multi-document YAML stream, the
// cluster-wide objects cdi-operator installs for cdi-apiserver and
// cdi-controller: CDI's CustomResourceDefinitions (and the operator's own,
// for the CDI kind), RBAC (with the roles it
// aggregates into admin, edit and view), the admission webhook configurations
// and the upload APIService. Every object comes from CDI's own operator code,
// so the test harness installs the real schemas and webhook rules rather
// than copies. The caBundles stay empty: the harness fills them in.
//
// It is not part of vm-apiserver's module: hack/build-kubevirt-cdi.sh builds
// it in the CDI tools module it generates (hence the ignore tag here).
package main

import (
	"cmp"
	"flag"
	"fmt"
	"os"
	"slices"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"kubevirt.io/containerized-data-importer/pkg/operator/resources"
	"kubevirt.io/containerized-data-importer/pkg/operator/resources/cluster"
)

func main() {
	namespace := flag.String("namespace", "cdi", "namespace cdi-apiserver and cdi-controller run in")
	flag.Parse()
	if err := run(*namespace); err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(1)
	}
}

func run(namespace string) error {
	// No client: the operator would read the CA bundle from the cluster.
	args := &cluster.FactoryArgs{Namespace: namespace, Logger: logr.Discard()}
	static, err := cluster.CreateAllStaticResources(args)
	if err != nil {
		return err
	}
	dynamic, err := cluster.CreateAllDynamicResources(args)
	if err != nil {
		return err
	}
	objects := append(static, dynamic...)
	// The factories are maps: sort for a stable output.
	slices.SortStableFunc(objects, func(a, b client.Object) int {
		return cmp.Or(cmp.Compare(a.GetObjectKind().GroupVersionKind().Kind, b.GetObjectKind().GroupVersionKind().Kind),
			cmp.Compare(a.GetName(), b.GetName()))
	})
	// The CDI kind itself is the operator's own CRD, installed with the
	// operator rather than by it.
	cdi, ok := resources.CDICRDs["cdi"]
	if !ok {
		return fmt.Errorf("CDI has no CRD for its CDI kind")
	}
	fmt.Printf("---\n%s\n", cdi)
	for _, o := range objects {
		data, err := yaml.Marshal(o)
		if err != nil {
			return err
		}
		fmt.Printf("---\n%s", data)
	}
	return nil
}
