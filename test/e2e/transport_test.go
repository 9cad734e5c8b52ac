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
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
)

// TestTransport checks that vm-apiserver speaks only TLS with a certificate
// the APIService's caBundle verifies, and that only health endpoints are
// open to anonymous callers.
func TestTransport(t *testing.T) {
	agg, err := aggregator.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := agg.ApiregistrationV1().APIServices().Get(context.Background(), "v1alpha1.apps.cozystack.io", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.InsecureSkipTLSVerify || len(svc.Spec.CABundle) == 0 {
		t.Fatalf("the APIService must verify the server with a caBundle: %+v", svc.Spec)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(svc.Spec.CABundle) {
		t.Fatal("caBundle holds no certificate")
	}
	// The aggregator's own view: the service's DNS name, verified by the
	// bundle.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "vm-apiserver.vm-system.svc"}}}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := client.Get(env.ServerURL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d %s", code, body)
	}
	for _, path := range []string{"/metrics", "/debug/pprof/", "/apis/apps.cozystack.io/v1alpha1/vmdisks", "/openapi/v3"} {
		if code, body := get(path); code != http.StatusForbidden && code != http.StatusUnauthorized {
			t.Errorf("%s is open to anonymous callers: %d %s", path, code, body)
		}
	}
	plain := strings.Replace(env.ServerURL, "https://", "http://", 1)
	if resp, err := http.Get(plain + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("plain HTTP answered %d", resp.StatusCode)
		}
	}
}
