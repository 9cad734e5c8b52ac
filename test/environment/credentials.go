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

// The certificates the control plane and vm-apiserver serve and
// authenticate with, and the kubeconfigs that carry them.

package environment

import (
	"context"
	"os"
	"path/filepath"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

type certificates struct {
	clusterCA, frontProxyCA                        *authority
	apiserverServing, admin, frontProxy, vmServing keyPair
	serviceAccountKey                              string
}

func (e *Environment) makeCertificates() (*certificates, error) {
	dir := filepath.Join(e.opts.Dir, "pki")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var c certificates
	var err error
	if c.clusterCA, err = newAuthority(dir, "cluster-ca"); err != nil {
		return nil, err
	}
	if c.frontProxyCA, err = newAuthority(dir, "front-proxy-ca"); err != nil {
		return nil, err
	}
	issues := []struct {
		into      *keyPair
		ca        *authority
		name, cn  string
		orgs      []string
		hostnames []string
	}{
		{&c.apiserverServing, c.clusterCA, "kube-apiserver", "kube-apiserver", nil, []string{kubeAPIServerSAN, "127.0.0.1"}},
		{&c.admin, c.clusterCA, "admin", "admin", []string{"system:masters"}, nil},
		{&c.frontProxy, c.frontProxyCA, "front-proxy-client", "front-proxy-client", nil, nil},
		// The aggregator dials <service>.<namespace>.svc whatever the
		// service resolves to.
		{&c.vmServing, c.clusterCA, "vm-apiserver-serving", ServerService, nil,
			[]string{ServerService + "." + ServerNamespace + ".svc", "localhost", "127.0.0.1"}},
	}
	for _, i := range issues {
		if *i.into, err = i.ca.issue(dir, i.name, i.cn, i.orgs, i.hostnames); err != nil {
			return nil, err
		}
	}
	c.serviceAccountKey = filepath.Join(dir, "service-account.key")
	e.caPEM = c.clusterCA.PEM()
	e.certs = &c
	return &c, writeSigningKey(c.serviceAccountKey)
}

// writeServerKubeconfig gives vm-apiserver the identity of its service
// account, through a token from the TokenRequest API.
func (e *Environment) writeServerKubeconfig(ctx context.Context) error {
	return e.writeServiceAccountKubeconfig(ctx, ServerNamespace, ServerServiceAccount, e.ServerKubeconfig())
}

// writeServiceAccountKubeconfig writes a kubeconfig with the identity of a
// service account, through a token from the TokenRequest API.
func (e *Environment) writeServiceAccountKubeconfig(ctx context.Context, namespace, name, path string) error {
	client, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		return err
	}
	expiry := int64((24 * time.Hour).Seconds())
	token, err := client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: e.Config.Host, CertificateAuthority: e.Config.CAFile}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: token.Status.Token}
	cfg.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: name}
	cfg.CurrentContext = "local"
	return clientcmd.WriteToFile(*cfg, path)
}

func writeKubeconfig(path, server, caFile string, user keyPair) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: caFile}
	cfg.AuthInfos["user"] = &clientcmdapi.AuthInfo{ClientCertificate: user.CertFile, ClientKey: user.KeyFile}
	cfg.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "user"}
	cfg.CurrentContext = "local"
	return clientcmd.WriteToFile(*cfg, path)
}
