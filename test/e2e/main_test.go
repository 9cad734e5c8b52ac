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

// Package e2e drives vm-apiserver end to end: a real etcd, kube-apiserver
// and kube-controller-manager, vm-apiserver registered through an
// APIService, and requests from the real kubectl and the generated client.
// One control plane serves the whole package; each test works in namespaces
// of its own.
package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/cozystack/vm-apiserver/test/environment"
)

var env *environment.Environment

// nodePortRange is small enough for a test to exhaust it with a few
// VMInstances: 200 ports.
const nodePortRange = "30000-30199"

// backendWatchTimeout is how long vm-apiserver keeps a backend watch open.
const backendWatchTimeout = 5 * time.Second

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	repo, err := environment.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "vm-apiserver-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env, err = environment.Start(context.Background(), environment.Options{
		RepoRoot: repo, Dir: dir,
		// Backend watches end and resume every few seconds, as they do
		// every 30 to 60 minutes in a cluster: every watch test crosses
		// resumptions.
		ServerArgs:    []string{"--backend-watch-timeout=" + backendWatchTimeout.String()},
		NodePortRange: nodePortRange,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the control plane:", err)
		return 1
	}
	code := m.Run()
	env.Stop()
	if code == 0 {
		os.RemoveAll(dir)
	} else {
		fmt.Fprintln(os.Stderr, "control-plane logs kept in", env.LogDir)
	}
	return code
}
