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

package backend

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	kubevirtv1 "kubevirt.io/api/core/v1"
	kubevirtclient "kubevirt.io/client-go/kubevirt"
)

// kubeVirtServer answers every request with status and body, and records
// the request.
func kubeVirtServer(t *testing.T, status int, body []byte) (*httptest.Server, *url.URL) {
	t.Helper()
	var asked url.URL
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = *r.URL
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(server.Close)
	return server, &asked
}

func TestVirtualMachineListsAreDecodedFromTheStreamAsTheTypedClientDecodesThem(t *testing.T) {
	sample, err := os.ReadFile("testdata/virtualmachine.json")
	if err != nil {
		t.Fatal(err)
	}
	standard, _ := decoders(t)
	var vm kubevirtv1.VirtualMachine
	if _, _, err := standard.Decode(sample, nil, &vm); err != nil {
		t.Fatal(err)
	}
	list := &kubevirtv1.VirtualMachineList{
		ListMeta: metav1.ListMeta{ResourceVersion: "42", Continue: "token"},
		Items:    []kubevirtv1.VirtualMachine{vm, vm},
	}
	list.Items[1].Name = "second"
	server, asked := kubeVirtServer(t, http.StatusOK, encodeJSON(t, list))
	opts := metav1.ListOptions{LabelSelector: "app=web", Limit: 500, Continue: "previous"}

	clients, err := NewClients(&rest.Config{Host: server.URL})
	if err != nil {
		t.Fatal(err)
	}
	vms := clients.KubeVirt.KubevirtV1().VirtualMachines("tenant")
	if _, streamed := vms.(streamedVirtualMachines); !streamed {
		t.Fatalf("the backend clients list VirtualMachines with %T, not from the stream", vms)
	}
	got, err := vms.List(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	typed, err := kubevirtclient.NewForConfig(&rest.Config{Host: server.URL})
	if err != nil {
		t.Fatal(err)
	}
	want, err := typed.KubevirtV1().VirtualMachines("tenant").List(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}

	if !apiequality.Semantic.DeepEqual(want, got) {
		t.Fatalf("streamed list differs from the typed client's (-typed +streamed):\n%s", cmp.Diff(want, got))
	}
	if asked.Path != "/apis/kubevirt.io/v1/namespaces/tenant/virtualmachines" ||
		asked.Query().Get("labelSelector") != "app=web" || asked.Query().Get("limit") != "500" || asked.Query().Get("continue") != "previous" {
		t.Fatalf("asked %s, want the namespace's virtualmachines with the list options", asked.String())
	}
}

func TestVirtualMachineListOfAllNamespacesAsksForAllNamespaces(t *testing.T) {
	server, asked := kubeVirtServer(t, http.StatusOK, []byte(`{"apiVersion":"kubevirt.io/v1","items":[],"kind":"VirtualMachineList","metadata":{"resourceVersion":"7"}}`))
	clients, err := NewClients(&rest.Config{Host: server.URL})
	if err != nil {
		t.Fatal(err)
	}
	got, err := clients.KubeVirt.KubevirtV1().VirtualMachines("").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if asked.Path != "/apis/kubevirt.io/v1/virtualmachines" || got.ResourceVersion != "7" || len(got.Items) != 0 {
		t.Fatalf("asked %s and got %+v, want all namespaces' virtualmachines at 7", asked.Path, got)
	}
}

func TestVirtualMachineListRefusedIsTheStatusError(t *testing.T) {
	status := []byte(`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"The provided continue parameter is too old","reason":"Expired","code":410}`)
	server, _ := kubeVirtServer(t, http.StatusGone, status)
	clients, err := NewClients(&rest.Config{Host: server.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = clients.KubeVirt.KubevirtV1().VirtualMachines("tenant").List(context.Background(), metav1.ListOptions{Continue: "old"})
	if !apierrors.IsResourceExpired(err) || err.Error() != "The provided continue parameter is too old" {
		t.Fatalf("got %v, want the 410 Expired status", err)
	}
}
