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

// Package bench is the scale benchmark behind `make bench`: it fills a real
// control plane with thousands of VMInstances and times each request
// through vm-apiserver against the same request for the VirtualMachines
// made directly to kube-apiserver, alternating the two in one loop so that
// the machine's load weighs on both alike. It writes the table of every
// figure, its native baseline, their ratio and the target it is held to.
//
// Configuration, from the environment:
//
//	BENCH_SCALES      VMInstance counts to reach in turn (default "50")
//	BENCH_ITERATIONS  iterations of every figure (default: per figure)
//	BENCH_OUTPUT      where to write the table (default: a temporary file)
//	BENCH_PROFILE_DIR where to save vm-apiserver's CPU and heap profiles
//	                  (default: none taken)
//
// `make bench` runs it at 1,000 and 10,000; `make test` once at 50 with two
// iterations so that it keeps working. It asserts no timing: it fails only
// on errors.
package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cozystack/vm-apiserver/test/environment"
)

var (
	env  *environment.Environment
	repo string
)

// serverFlags make the VMInstance LoadBalancer Services take no node ports,
// so that 10,000 external VMInstances fit (a cluster has 2,768).
var serverFlags = []string{"--allocate-load-balancer-node-ports=false"}

// serverEnv is the Go runtime's settings the Deployment gives vm-apiserver
// (artifacts/deploy/server/deployment.yaml): the heap grows by half the
// live heap between collections, below a soft limit of 256 MiB.
var serverEnv = []string{"GOGC=50", "GOMEMLIMIT=256MiB"}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if repo, err = environment.RepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "vm-apiserver-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env, err = environment.Start(context.Background(), environment.Options{
		RepoRoot: repo, Dir: dir, ServerArgs: serverFlags, ServerEnv: serverEnv,
		// Kubernetes' default range: every external VMInstance's Service
		// takes a node port unless the server is told otherwise.
		NodePortRange: "30000-32767",
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

// config is what the environment variables ask for.
type config struct {
	scales []int
	// iterations overrides every figure's iteration count when above 0.
	iterations int
	output     string
	profileDir string
}

func readConfig(t *testing.T) config {
	t.Helper()
	c := config{output: os.Getenv("BENCH_OUTPUT"), profileDir: os.Getenv("BENCH_PROFILE_DIR")}
	scales := os.Getenv("BENCH_SCALES")
	if scales == "" {
		scales = "50"
	}
	for _, s := range strings.Fields(scales) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 2 {
			t.Fatalf("BENCH_SCALES: %q is not a count of at least 2", s)
		}
		if len(c.scales) > 0 && n <= c.scales[len(c.scales)-1] {
			t.Fatalf("BENCH_SCALES must increase: %q", scales)
		}
		c.scales = append(c.scales, n)
	}
	if s := os.Getenv("BENCH_ITERATIONS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("BENCH_ITERATIONS: %q is not a positive count", s)
		}
		c.iterations = n
	}
	if c.output == "" {
		c.output = filepath.Join(t.TempDir(), "bench.md")
	} else if !filepath.IsAbs(c.output) {
		c.output = filepath.Join(repo, c.output)
	}
	return c
}
