package bench

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"kubevirt.io/client-go/kubevirt"

	"github.com/cozystack/vm-apiserver/pkg/generated/clientset/versioned"
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
	req := c.raw.Get().AbsPath(path).SetHeader("Accept", "application/json")
	for i := 0; i+1 < len(params); i += 2 {
		req = req.Param(params[i], params[i+1])
	}
	return req.DoRaw(ctx)
}

func sshKey(t testing.TB) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))) + " bench@test"
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
