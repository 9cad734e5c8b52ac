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

// Installing what the tests use and running vm-apiserver, registered
// with kube-apiserver through an APIService.

package environment

import (
	"context"
	"path/filepath"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
)

// installBackend installs, once KubeVirt and CDI run (their webhooks check
// it), the catalogue, the storage and OS images the tests use, and what
// vm-apiserver needs to run: its namespace and its identity's rights.
func (e *Environment) installBackend(ctx context.Context) error {
	// The instance types, preferences and OS images VMInstances refer to.
	if _, err := e.Kubectl(ctx, "", "apply", "--server-side", "-k", filepath.Join(e.opts.RepoRoot, "artifacts", "catalogue")); err != nil {
		return err
	}
	testing := filepath.Join(e.opts.RepoRoot, "artifacts", "testing")
	if _, err := e.Kubectl(ctx, "", "apply", "--server-side",
		"-f", filepath.Join(testing, "storage-classes.yaml"), "-f", filepath.Join(testing, "os-images.yaml")); err != nil {
		return err
	}
	// vm-apiserver's namespace, service account and least-privilege
	// roles, as shipped, and the tenant roles aggregated into view, edit and
	// admin; not the rest of the kustomization (Deployment, Service,
	// APIService): here vm-apiserver is a process, registered below.
	// The optional OS-image clone grant too: KubeVirt refuses every root
	// disk without it.
	deploy := filepath.Join(e.opts.RepoRoot, "artifacts", "deploy")
	if _, err := e.Kubectl(ctx, "", "apply", "--server-side",
		"-f", filepath.Join(deploy, "components", "os-image-clone-grant", "clone-grant.yaml")); err != nil {
		return err
	}
	if _, err := e.Kubectl(ctx, "", "apply", "--server-side",
		"-f", filepath.Join(deploy, "namespace.yaml"),
		"-f", filepath.Join(deploy, "server-rbac.yaml"),
		"-f", filepath.Join(deploy, "tenant-roles.yaml")); err != nil {
		return err
	}
	return e.writeServerKubeconfig(ctx)
}

// startServer runs vm-apiserver and registers it: an ExternalName Service
// pointing at localhost and an APIService trusting its CA.
func (e *Environment) startServer(ctx context.Context, binary string) error {
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	e.serverBinary, e.serverPort = binary, ports[0]
	server, err := startProcessWithEnv(e.LogDir, "vm-apiserver", binary, e.opts.ServerEnv, e.serverArgs(ports[0])...)
	if err != nil {
		return err
	}
	e.processes = append(e.processes, server)
	e.ServerURL = "https://127.0.0.1:" + strconv.Itoa(ports[0])

	client, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		return err
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: ServerService, Namespace: ServerNamespace},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "localhost"},
	}
	if _, err := client.CoreV1().Services(ServerNamespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	agg, err := aggregator.NewForConfig(e.Config)
	if err != nil {
		return err
	}
	port := int32(ports[0])
	apiService := &apiregistrationv1.APIService{
		ObjectMeta: metav1.ObjectMeta{Name: APIServiceName},
		Spec: apiregistrationv1.APIServiceSpec{
			Group:                "apps.cozystack.io",
			Version:              "v1alpha1",
			Service:              &apiregistrationv1.ServiceReference{Namespace: ServerNamespace, Name: ServerService, Port: &port},
			CABundle:             e.caPEM,
			GroupPriorityMinimum: 1000,
			VersionPriority:      100,
		},
	}
	if _, err := agg.ApiregistrationV1().APIServices().Create(ctx, apiService, metav1.CreateOptions{}); err != nil {
		return err
	}
	return e.poll(ctx, "the vm-apiserver APIService to become available", func(ctx context.Context) (bool, error) {
		if server.exited() {
			return false, server.failure()
		}
		got, err := agg.ApiregistrationV1().APIServices().Get(ctx, APIServiceName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		return servesAPI(got, client), nil
	})
}

// servesAPI tells whether the APIService is available and discovery
// through it lists vm-apiserver's resources.
func servesAPI(svc *apiregistrationv1.APIService, client kubernetes.Interface) bool {
	for _, c := range svc.Status.Conditions {
		if c.Type == apiregistrationv1.Available && c.Status == apiregistrationv1.ConditionTrue {
			resources, err := client.Discovery().ServerResourcesForGroupVersion(apiGroupVersion)
			return err == nil && len(resources.APIResources) > 0
		}
	}
	return false
}
