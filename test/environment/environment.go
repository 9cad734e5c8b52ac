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

// Package environment runs a real control plane for the end-to-end tests and
// the local playground: etcd, kube-apiserver, kube-controller-manager,
// KubeVirt's virt-api and virt-controller, CDI's cdi-apiserver and
// cdi-controller, and vm-apiserver registered through an APIService, each a
// real process built from the Go module proxy.
package environment

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
)

// Names of the objects that register vm-apiserver.
const (
	ServerNamespace = "vm-system"
	ServerService   = "vm-apiserver"
	APIServiceName  = "v1alpha1.apps.cozystack.io"
	// ServerServiceAccount is vm-apiserver's identity, in ServerNamespace.
	ServerServiceAccount = "vm-apiserver"
	apiGroupVersion      = "apps.cozystack.io/v1alpha1"
	startupTimeout       = 2 * time.Minute
	pollInterval         = 100 * time.Millisecond
	kubeAPIServerSAN     = "localhost"
)

// Options say where things are and where to put them.
type Options struct {
	// RepoRoot is the repository checkout (for manifests and the build).
	RepoRoot string
	// Dir receives certificates, kubeconfigs, data and logs.
	Dir string
	// ServerArgs are extra vm-apiserver flags, ServerEnv extra environment
	// variables (NAME=value) of its processes.
	ServerArgs []string
	ServerEnv  []string
	// NodePortRange is the cluster's node port range; empty is
	// Kubernetes' default, 30000-32767.
	NodePortRange string
}

// Environment is a running control plane with vm-apiserver.
type Environment struct {
	opts Options
	// BinDir holds kubectl and the other control-plane binaries.
	BinDir string
	// AdminKubeconfig is a cluster-admin kubeconfig.
	AdminKubeconfig string
	// Config is the cluster-admin client configuration.
	Config *rest.Config
	// LogDir holds one log file per process.
	LogDir string
	// ServerURL is vm-apiserver's own address, for requests that bypass
	// the aggregator.
	ServerURL string
	// EtcdURL is the etcd client address, for tests that act on storage
	// itself, such as compacting its history.
	EtcdURL string
	// virtControllerURL is virt-controller's own address (its metrics).
	virtControllerURL string

	caPEM     []byte
	certs     *certificates
	processes []*process
	// backend is what KubeVirt's and CDI's operators would install
	// (backend.go).
	backend *backend
	// supervision guards processes against the restarts of supervised
	// components, and stopping ends them.
	supervision sync.Mutex
	stopping    bool
	// serverBinary and serverPort are the environment's own vm-apiserver,
	// for tests that start more of them (servers.go).
	serverBinary string
	serverPort   int
	// kubeAPIServer is kube-apiserver's place in processes and its
	// arguments, to restart it.
	kubeAPIServer     int
	kubeAPIServerArgs []string
}

// Start builds what is missing and starts everything. On error, whatever
// was started is stopped again.
func Start(ctx context.Context, opts Options) (env *Environment, err error) {
	started := &Environment{opts: opts, LogDir: filepath.Join(opts.Dir, "logs")}
	env = started
	defer func() {
		// The returns below set env to nil: stop what was started, not env.
		if err != nil {
			started.Stop()
			env = nil
		}
	}()
	for _, d := range []string{opts.Dir, env.LogDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	if env.BinDir, err = buildControlPlane(ctx, opts.RepoRoot); err != nil {
		return nil, err
	}
	if env.backend, err = prepareBackend(ctx, opts.RepoRoot); err != nil {
		return nil, err
	}
	serverBinary, err := buildServer(ctx, opts.RepoRoot)
	if err != nil {
		return nil, err
	}
	if err := env.startControlPlane(ctx); err != nil {
		return nil, err
	}
	if err := env.installBackendCRDs(ctx); err != nil {
		return nil, err
	}
	if err := env.startControllerManager(); err != nil {
		return nil, err
	}
	if err := env.startBackend(ctx); err != nil {
		return nil, err
	}
	if err := env.installBackend(ctx); err != nil {
		return nil, err
	}
	if err := env.startServer(ctx, serverBinary); err != nil {
		return nil, err
	}
	return env, nil
}

// Stop ends every process, the last started first.
func (e *Environment) Stop() {
	// Supervised components (backend.go) are not restarted from here on.
	e.supervision.Lock()
	defer e.supervision.Unlock()
	e.stopping = true
	for i := len(e.processes) - 1; i >= 0; i-- {
		e.processes[i].stop()
	}
	e.processes = nil
}

// RestartKubeAPIServer stops kube-apiserver, which ends every watch of it,
// and starts it again; it returns once it is healthy.
func (e *Environment) RestartKubeAPIServer(ctx context.Context) error {
	e.processes[e.kubeAPIServer].stop()
	kas, err := startProcess(e.LogDir, "kube-apiserver-restarted", filepath.Join(e.BinDir, "kube-apiserver"), e.kubeAPIServerArgs...)
	if err != nil {
		return err
	}
	e.processes[e.kubeAPIServer] = kas
	return e.waitHealthy(ctx, kas)
}

// Kubectl runs the real kubectl as cluster admin (or as whoever args
// impersonate) and returns its combined output.
func (e *Environment) Kubectl(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := e.KubectlCommand(ctx, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// ServerKubeconfig is the kubeconfig vm-apiserver reaches kube-apiserver
// with.
func (e *Environment) ServerKubeconfig() string {
	return filepath.Join(e.opts.Dir, "vm-apiserver.kubeconfig")
}

// KubectlCommand is a kubectl command as cluster admin, for callers that
// read its output as it comes (kubectl get -w). Its discovery cache stays in
// the environment's directory.
func (e *Environment) KubectlCommand(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(e.BinDir, "kubectl"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+e.AdminKubeconfig, "KUBECACHEDIR="+filepath.Join(e.opts.Dir, "kubectl-cache"))
	return cmd
}

func (e *Environment) poll(ctx context.Context, what string, done wait.ConditionWithContextFunc) error {
	err := wait.PollUntilContextTimeout(ctx, pollInterval, startupTimeout, true, done)
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("waiting for %s (logs in %s): %w", what, e.LogDir, err)
	}
	return err
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
