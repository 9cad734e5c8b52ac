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
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strconv"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/keyutil"
)

// CDINamespace is where cdi-apiserver and cdi-controller run, CDI's
// default install namespace.
const CDINamespace = "cdi"

// cdiCRs are the CDI resource cdi-operator is given and the CDIConfig it
// creates from it, with the feature gate the operator sets by default
// (without it CDI binds claims at once instead of waiting for the VM's pod);
// cdi-controller fills in the CDIConfig's status.
const cdiCRs = `apiVersion: cdi.kubevirt.io/v1beta1
kind: CDI
metadata:
  name: cdi
spec:
  config:
    featureGates: [HonorWaitForFirstConsumer]
---
apiVersion: cdi.kubevirt.io/v1beta1
kind: CDIConfig
metadata:
  name: config
spec:
  featureGates: [HonorWaitForFirstConsumer]
`

// startCDI does what cdi-operator does for cdi-apiserver and
// cdi-controller, with both as local processes: the CDI and CDIConfig
// resources, the token signing key (a Secret for cdi-apiserver and files for
// cdi-controller, where the operator mounts that Secret), the upload
// signers, serving certificates, then the webhook configurations, the
// upload APIService and the RBAC of the generator (objs), pointed at the
// local cdi-apiserver. It returns once CDI's webhooks are in force.
func (e *Environment) startCDI(ctx context.Context, binDir string, objs []*unstructured.Unstructured) error {
	ns := CDINamespace
	if _, err := e.Kubectl(ctx, "", "create", "namespace", ns); err != nil {
		return err
	}
	if _, err := e.Kubectl(ctx, cdiCRs, "apply", "--server-side", "-f", "-"); err != nil {
		return err
	}
	// cdi-controller runs in a directory of its own, where the build
	// pointed its key directory (hack/build-kubevirt-cdi.sh).
	controllerDir := filepath.Join(e.opts.Dir, "cdi-controller")
	keyDir := filepath.Join(controllerDir, "var", "run", "cdi", "token", "keys")
	if err := os.MkdirAll(keyDir, 0o700); err != nil {
		return err
	}
	private, public, err := signingKey(keyDir)
	if err != nil {
		return err
	}
	// The Secret cdi-apiserver signs clone and upload tokens with.
	if _, err := e.Kubectl(ctx, "", "create", "secret", "generic", "cdi-api-signing-key", "-n", ns,
		"--from-file=id_rsa="+private, "--from-file=id_rsa.pub="+public); err != nil {
		return err
	}
	pki := filepath.Join(e.opts.Dir, "pki")
	var uploadEnv []string
	for _, signer := range []string{"cdi-uploadserver-signer", "cdi-uploadserver-client-signer"} {
		ca, err := newAuthority(pki, signer)
		if err != nil {
			return err
		}
		keyPEM, err := keyutil.MarshalPrivateKeyToPEM(ca.key)
		if err != nil {
			return err
		}
		keyFile := filepath.Join(pki, signer+".key")
		if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
			return err
		}
		prefix := "UPLOAD_SERVER_"
		if signer == "cdi-uploadserver-client-signer" {
			prefix = "UPLOAD_CLIENT_"
		}
		uploadEnv = append(uploadEnv, prefix+"CERT_FILE="+ca.CertFile, prefix+"KEY_FILE="+keyFile)
	}
	apiCert, err := e.certs.clusterCA.issue(pki, "cdi-apiserver", "cdi-api", nil,
		[]string{"cdi-api." + ns + ".svc", "localhost", "127.0.0.1"})
	if err != nil {
		return err
	}
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	startAPI := func(logName string) (*process, error) {
		return startProcessIn(e.LogDir, logName, "", []string{
			"CERT_FILE=" + apiCert.CertFile, "KEY_FILE=" + apiCert.KeyFile,
			// Read by the patched build; upstream listens on 0.0.0.0:8443.
			"CDI_APISERVER_LISTEN_HOST=127.0.0.1", "CDI_APISERVER_LISTEN_PORT=" + strconv.Itoa(ports[0]),
		}, filepath.Join(binDir, "cdi-apiserver"), "-kubeconfig="+e.AdminKubeconfig)
	}
	api, err := startAPI("cdi-apiserver")
	if err != nil {
		return err
	}
	e.processes = append(e.processes, api)
	e.supervise(len(e.processes)-1, "cdi-apiserver", startAPI)
	startController := func(logName string) (*process, error) {
		return startProcessIn(e.LogDir, logName, controllerDir, append([]string{
			// Images of the pods cdi-controller creates; no node runs them.
			"IMPORTER_IMAGE=quay.io/kubevirt/cdi-importer:" + CDIVersion,
			"CLONER_IMAGE=quay.io/kubevirt/cdi-cloner:" + CDIVersion,
			"UPLOADSERVER_IMAGE=quay.io/kubevirt/cdi-uploadserver:" + CDIVersion,
			"OVIRT_POPULATOR_IMAGE=quay.io/kubevirt/cdi-importer:" + CDIVersion,
			"UPLOADPROXY_SERVICE=cdi-uploadproxy",
		}, uploadEnv...), filepath.Join(binDir, "cdi-controller"), "-kubeconfig="+e.AdminKubeconfig)
	}
	controller, err := startController("cdi-controller")
	if err != nil {
		return err
	}
	e.processes = append(e.processes, controller)
	e.supervise(len(e.processes)-1, "cdi-controller", startController)

	apiURL := "https://127.0.0.1:" + strconv.Itoa(ports[0])
	if err := e.waitServing(ctx, api, apiURL+"/healthz"); err != nil {
		return err
	}
	if err := pointAtLocal(objs, apiURL, int64(ports[0]), e.caPEM); err != nil {
		return err
	}
	if err := e.externalNameService(ctx, ns, "cdi-api"); err != nil {
		return err
	}
	if err := e.applyObjects(ctx, "cdi-operator", objs); err != nil {
		return err
	}
	return e.waitWebhook(ctx, api, "cdi-apiserver", refusedDataVolume, "denied the request")
}

// refusedDataVolume is a DataVolume only CDI's webhook refuses: it has no
// source.
const refusedDataVolume = `apiVersion: cdi.kubevirt.io/v1beta1
kind: DataVolume
metadata:
  name: webhook-probe
  namespace: default
spec:
  storage:
    resources:
      requests:
        storage: 1Gi
`

// signingKey writes a new RSA key pair as cdi-operator stores it (id_rsa,
// PKCS #1; id_rsa.pub, PKIX) and returns the two files.
func signingKey(dir string) (private, public string, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", "", err
	}
	private, public = filepath.Join(dir, "id_rsa"), filepath.Join(dir, "id_rsa.pub")
	if err := os.WriteFile(private, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		return "", "", err
	}
	return private, public, os.WriteFile(public, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600)
}
