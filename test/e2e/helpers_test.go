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
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"kubevirt.io/client-go/containerizeddataimporter"

	"github.com/cozystack/vm-apiserver/pkg/generated/clientset/versioned"
)

// eventuallyTimeout bounds waits for the projection to reflect a backend
// change; they are event driven and normally end in milliseconds.
const eventuallyTimeout = 30 * time.Second

type clients struct {
	kube kubernetes.Interface
	apps versioned.Interface
	cdi  containerizeddataimporter.Interface
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
	cdi, err := containerizeddataimporter.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	return clients{kube: kube, apps: apps, cdi: cdi}
}

var namespaceCounter atomic.Int32

// newNamespace creates a namespace for one test and deletes it afterwards.
func newNamespace(t testing.TB, c clients) string {
	t.Helper()
	name := fmt.Sprintf("e2e-%s-%d", strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())), namespaceCounter.Add(1))
	if len(name) > 63 {
		name = strings.TrimRight(name[len(name)-63:], "-")
		name = strings.TrimLeft(name, "-")
	}
	ensureNamespace(t, c, name)
	return name
}

// ensureNamespace creates namespace name unless it exists, and deletes it
// after the test if it created it.
func ensureNamespace(t testing.TB, c clients, name string) {
	t.Helper()
	ctx := context.Background()
	// A namespace an earlier test deleted may still be terminating.
	eventually(t, "namespace "+name+" to be usable", func() (bool, string) {
		existing, err := c.kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return true, ""
		}
		return existing.Status.Phase != corev1.NamespaceTerminating, "still terminating"
	})
	_, err := c.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.kube.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

// kubectl runs the real kubectl as cluster admin and fails the test on error.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := env.Kubectl(context.Background(), "", args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// kubectlStdin is kubectl with a manifest on standard input.
func kubectlStdin(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := env.Kubectl(context.Background(), stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// eventually polls condition until it holds, failing the test with the last
// reason it gave if it never does.
func eventually(t testing.TB, what string, condition func() (bool, string)) {
	t.Helper()
	eventuallyWithin(t, eventuallyTimeout, what, condition)
}

// eventuallyWithin is eventually with a timeout of its own.
func eventuallyWithin(t testing.TB, timeout time.Duration, what string, condition func() (bool, string)) {
	t.Helper()
	var reason string
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		var ok bool
		ok, reason = condition()
		return ok, nil
	})
	if err != nil {
		t.Fatalf("%s: never happened: %s", what, reason)
	}
}

// example is the path of a manifest in artifacts/examples.
func example(name string) string {
	return "../../artifacts/examples/" + name
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// lineReader follows the output of a long-running command, such as
// kubectl get -w.
type lineReader struct {
	lines chan string
}

// startLines starts cmd and follows its standard output; the command is
// stopped when the test ends.
func startLines(t *testing.T, cmd *exec.Cmd) *lineReader {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	r := &lineReader{lines: make(chan string, 100)}
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			r.lines <- scanner.Text()
		}
		close(r.lines)
	}()
	return r
}

// waitFor reads lines until one contains every one of want.
func (r *lineReader) waitFor(t *testing.T, want ...string) {
	t.Helper()
	timeout := time.After(eventuallyTimeout)
	for {
		select {
		case line, ok := <-r.lines:
			if !ok {
				t.Fatalf("the command ended before printing %q", want)
			}
			if containsAll(line, want) {
				return
			}
		case <-timeout:
			t.Fatalf("the command never printed %q", want)
		}
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
