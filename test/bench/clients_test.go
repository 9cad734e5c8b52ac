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

package bench

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"kubevirt.io/client-go/kubevirt"

	"github.com/cozystack/vm-apiserver/pkg/generated/clientset/versioned"
	"github.com/cozystack/vm-apiserver/test/environment"
)

// Paths of the two lists compared: VMInstances through the aggregator and
// vm-apiserver, VirtualMachines from kube-apiserver.
const (
	vmInstancesPath     = "/apis/apps.cozystack.io/v1alpha1"
	virtualMachinesPath = "/apis/kubevirt.io/v1"
)

type clients struct {
	kube kubernetes.Interface
	apps versioned.Interface
	kv   kubevirt.Interface
	// raw sends requests by path and returns the body undecoded, so that
	// both paths are timed to the last byte received and neither pays for
	// decoding into Go types.
	raw rest.Interface
}

func newClients(t testing.TB) clients {
	t.Helper()
	kube, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	apps, err := versioned.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := kubevirt.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	return clients{kube: kube, apps: apps, kv: kv, raw: kube.Discovery().RESTClient()}
}

// get sends GET path with query parameters (name, value pairs) as JSON and
// returns the body.
func (c clients) get(ctx context.Context, path string, params ...string) ([]byte, error) {
	return c.getAs(ctx, "application/json", path, params...)
}

// metadataListProtobuf asks kube-apiserver for a list of the objects'
// metadata only (PartialObjectMetadataList) in protobuf, as client-go's
// metadata client does.
const metadataListProtobuf = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"

// metadataDecoder decodes metadataListProtobuf responses.
func metadataDecoder() runtime.Decoder {
	scheme := runtime.NewScheme()
	utilruntime.Must(metav1.AddMetaToScheme(scheme))
	return protobuf.NewSerializer(scheme, scheme)
}

// getAs is get with the response media type accept.
func (c clients) getAs(ctx context.Context, accept, path string, params ...string) ([]byte, error) {
	req := c.raw.Get().AbsPath(path).SetHeader("Accept", accept)
	for i := 0; i+1 < len(params); i += 2 {
		req = req.Param(params[i], params[i+1])
	}
	return req.DoRaw(ctx)
}

func sshKey(t testing.TB) string {
	t.Helper()
	key, err := environment.SSHPublicKey("bench@test")
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// poll checks condition every interval until it holds or timeout passes,
// failing the test with the last reason it gave.
func poll(t testing.TB, what string, interval, timeout time.Duration, condition func(ctx context.Context) (bool, string)) {
	t.Helper()
	var reason string
	err := wait.PollUntilContextTimeout(context.Background(), interval, timeout, true, func(ctx context.Context) (bool, error) {
		var ok bool
		ok, reason = condition(ctx)
		return ok, nil
	})
	if err != nil {
		t.Fatalf("%s: never happened: %s", what, reason)
	}
}
