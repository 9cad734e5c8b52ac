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
