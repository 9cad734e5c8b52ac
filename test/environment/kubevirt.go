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

package environment

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// KubeVirtNamespace is where virt-api and virt-controller run, KubeVirt's
// default install namespace.
const KubeVirtNamespace = "kubevirt"

// kubeVirtCR is the KubeVirt resource virt-operator would be given. The
// product's catalogue holds the instance types, so KubeVirt's own are off
// (as the README asks of a real cluster).
const kubeVirtCR = `apiVersion: kubevirt.io/v1
kind: KubeVirt
metadata:
  name: kubevirt
  namespace: ` + KubeVirtNamespace + `
spec:
  configuration:
    commonInstancetypesDeployment:
      enabled: false
`

// startKubeVirt does what virt-operator does for virt-api and
// virt-controller, with both as local processes: the KubeVirt resource (and
// the status virt-operator writes: the Deployed phase both components wait
// for, and the default architecture, the control plane's, which virt-api's
// mutating webhook gives every VM and without which it refuses every VMI),
// the service accounts and RBAC of the generator (objs), serving
// certificates, the CA ConfigMap virt-api reads, then the generator's
// webhook configurations and APIServices, pointed at the local virt-api.
// It returns once virt-api's webhooks are in force.
func (e *Environment) startKubeVirt(ctx context.Context, binDir string, objs []*unstructured.Unstructured) error {
	ns := KubeVirtNamespace
	if _, err := e.Kubectl(ctx, "", "create", "namespace", ns); err != nil {
		return err
	}
	if _, err := e.Kubectl(ctx, kubeVirtCR, "apply", "--server-side", "-f", "-"); err != nil {
		return err
	}
	if _, err := e.Kubectl(ctx, "", "patch", "kubevirt", "kubevirt", "-n", ns, "--subresource=status", "--type=merge",
		"-p", `{"status":{"phase":"Deployed","defaultArchitecture":"`+runtime.GOARCH+`"}}`); err != nil {
		return err
	}
	// virt-api authenticates virt-handler's client certificates with the
	// CA in kubevirt-ca; nothing here presents one, but virt-api waits for
	// the ConfigMap.
	if _, err := e.Kubectl(ctx, "", "create", "configmap", "kubevirt-ca", "-n", ns,
		"--from-file=ca-bundle="+e.certs.clusterCA.CertFile); err != nil {
		return err
	}
	// Both run as their own service accounts, with the RBAC virt-operator
	// gives them: KubeVirt's webhooks tell its components' requests
	// (status written by virt-controller) from users' by these names.
	admission, identities := splitAdmission(objs)
	if err := e.applyObjects(ctx, "kubevirt-rbac", identities); err != nil {
		return err
	}
	apiKubeconfig := filepath.Join(e.opts.Dir, "virt-api.kubeconfig")
	controllerKubeconfig := filepath.Join(e.opts.Dir, "virt-controller.kubeconfig")
	if err := e.writeServiceAccountKubeconfig(ctx, ns, "kubevirt-apiserver", apiKubeconfig); err != nil {
		return err
	}
	if err := e.writeServiceAccountKubeconfig(ctx, ns, "kubevirt-controller", controllerKubeconfig); err != nil {
		return err
	}
	pki := filepath.Join(e.opts.Dir, "pki")
	apiCert, err := e.certs.clusterCA.issue(pki, "virt-api", "virt-api", nil,
		[]string{"virt-api." + ns + ".svc", "localhost", "127.0.0.1"})
	if err != nil {
		return err
	}
	controllerCert, err := e.certs.clusterCA.issue(pki, "virt-controller", "virt-controller", nil, []string{"localhost", "127.0.0.1"})
	if err != nil {
		return err
	}
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	startAPI := func(logName string) (*process, error) {
		return startProcess(e.LogDir, logName, filepath.Join(binDir, "virt-api"),
			"--kubeconfig="+apiKubeconfig,
			"--listen=127.0.0.1", "--port="+strconv.Itoa(ports[0]),
			"--tls-cert-file="+apiCert.CertFile, "--tls-key-file="+apiCert.KeyFile,
		)
	}
	api, err := startAPI("virt-api")
	if err != nil {
		return err
	}
	e.processes = append(e.processes, api)
	e.supervise(len(e.processes)-1, "virt-api", startAPI)
	startController := func(logName string) (*process, error) {
		return startProcess(e.LogDir, logName, filepath.Join(binDir, "virt-controller"),
			"--kubeconfig="+controllerKubeconfig,
			"--listen=127.0.0.1", "--port="+strconv.Itoa(ports[1]),
			"--prom-cert-file="+controllerCert.CertFile, "--prom-key-file="+controllerCert.KeyFile,
			// Images of the pods virt-controller creates; no node runs them.
			"--launcher-image=quay.io/kubevirt/virt-launcher:"+KubeVirtVersion,
			"--exporter-image=quay.io/kubevirt/virt-exportserver:"+KubeVirtVersion,
		)
	}
	controller, err := startController("virt-controller")
	if err != nil {
		return err
	}
	e.virtControllerURL = "https://127.0.0.1:" + strconv.Itoa(ports[1])
	e.processes = append(e.processes, controller)
	e.supervise(len(e.processes)-1, "virt-controller", startController)

	apiURL := "https://127.0.0.1:" + strconv.Itoa(ports[0])
	if err := e.waitServing(ctx, api, apiURL+"/healthz"); err != nil {
		return err
	}
	if err := pointAtLocal(admission, apiURL, int64(ports[0]), e.caPEM); err != nil {
		return err
	}
	if err := e.externalNameService(ctx, ns, "virt-api"); err != nil {
		return err
	}
	if err := e.applyObjects(ctx, "kubevirt-admission", admission); err != nil {
		return err
	}
	return e.waitWebhook(ctx, api, "virt-api", refusedVM, "mutually exclusive")
}

// refusedVM is a VirtualMachine only virt-api's webhook refuses (the
// schema allows both fields): a dry run of it fails once the webhook is
// called.
const refusedVM = `apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: webhook-probe
  namespace: default
spec:
  running: true
  runStrategy: Always
  template:
    spec:
      domain:
        devices: {}
`

// waitWebhook waits until kube-apiserver calls the component's webhook: a
// server-side dry run of probe is refused with a message containing
// refusal.
func (e *Environment) waitWebhook(ctx context.Context, p *process, what, probe, refusal string) error {
	return e.poll(ctx, what+"'s admission webhook to take effect", func(ctx context.Context) (bool, error) {
		if p.exited() {
			return false, p.failure()
		}
		out, err := e.Kubectl(ctx, probe, "create", "--dry-run=server", "-f", "-")
		if err == nil {
			return false, nil
		}
		return strings.Contains(out, refusal), nil
	})
}

// externalNameService makes the Service an APIService names resolve to the
// local process, as vm-apiserver's own does.
func (e *Environment) externalNameService(ctx context.Context, namespace, name string) error {
	svc := fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %s
  namespace: %s
spec:
  type: ExternalName
  externalName: localhost
`, name, namespace)
	_, err := e.Kubectl(ctx, svc, "apply", "--server-side", "-f", "-")
	return err
}
