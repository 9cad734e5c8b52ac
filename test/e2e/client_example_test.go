package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestClientExample runs hack/client-example, a program on the generated
// typed client, informer and lister, against the cluster.
func TestClientExample(t *testing.T) {
	c := newClients(t)
	ns := newNamespace(t, c)
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(context.Background(), "go", "run", "./hack/client-example", "--kubeconfig", env.AdminKubeconfig, "--namespace", ns)
	cmd.Dir = repo
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("client-example: %v\n%s", err, out)
	}
	for _, want := range []string{
		"informer synced",
		"lister: client-example instanceType=u1.small profile=ubuntu running=false",
		"list spec.running=false: 1 item(s)",
		"informer: updated client-example",
		"informer: deleted",
		"done",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("client-example output lacks %q:\n%s", want, out)
		}
	}
}
