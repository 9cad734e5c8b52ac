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

// Command playground runs the local playground behind `make run`: a real
// control plane with KubeVirt (virt-api, virt-controller), CDI
// (cdi-apiserver, cdi-controller) and vm-apiserver, until Ctrl-C or SIGTERM,
// then stops everything it started.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/cozystack/vm-apiserver/test/environment"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "playground:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	repo, err := environment.RepoRoot()
	if err != nil {
		return err
	}
	dir := filepath.Join(repo, "_output", "playground")
	// Each run starts from an empty cluster.
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	fmt.Printf("Starting etcd, kube-apiserver, kube-controller-manager, KubeVirt %s (virt-api, virt-controller), CDI %s (cdi-apiserver, cdi-controller) and vm-apiserver...\n",
		environment.KubeVirtVersion, environment.CDIVersion)
	env, err := environment.Start(ctx, environment.Options{RepoRoot: repo, Dir: dir})
	if err != nil {
		return err
	}
	defer env.Stop()

	kubeconfig := filepath.Join(repo, "_output", "kubeconfig")
	data, err := os.ReadFile(env.AdminKubeconfig)
	if err != nil {
		return err
	}
	if err := os.WriteFile(kubeconfig, data, 0o600); err != nil {
		return err
	}
	fmt.Printf("\nThe playground is ready. In another shell:\n\n  export KUBECONFIG=%s\n  export PATH=%s:$PATH   # kubectl %s\n\nLogs: %s\nPress Ctrl-C to stop.\n",
		kubeconfig, env.BinDir, "v1.37.2", env.LogDir)
	<-ctx.Done()
	fmt.Println("\nStopping...")
	return nil
}
