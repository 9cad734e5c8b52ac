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

// The control plane's processes: building them, starting etcd,
// kube-apiserver and kube-controller-manager, and waiting for them.

package environment

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// buildControlPlane runs the project's build script, which caches the
// binaries outside the repository, and returns their directory.
func buildControlPlane(ctx context.Context, repo string) (string, error) {
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(repo, "hack", "build-control-plane.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("building the control plane: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func buildServer(ctx context.Context, repo string) (string, error) {
	binary := filepath.Join(repo, "_output", "bin", "vm-apiserver")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", binary, "./cmd/vm-apiserver")
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building vm-apiserver: %w: %s", err, out)
	}
	return binary, nil
}

func (e *Environment) startControlPlane(ctx context.Context) error {
	certs, err := e.makeCertificates()
	if err != nil {
		return err
	}
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	e.EtcdURL = etcdURL
	peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	etcd, err := startProcess(e.LogDir, "etcd", filepath.Join(e.BinDir, "etcd"),
		"--name=default",
		"--data-dir="+filepath.Join(e.opts.Dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL,
		"--unsafe-no-fsync=true",
	)
	if err != nil {
		return err
	}
	e.processes = append(e.processes, etcd)

	apiserverURL := "https://" + kubeAPIServerSAN + ":" + strconv.Itoa(ports[2])
	e.kubeAPIServerArgs = []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(ports[2]),
		"--tls-cert-file=" + certs.apiserverServing.CertFile,
		"--tls-private-key-file=" + certs.apiserverServing.KeyFile,
		"--client-ca-file=" + certs.clusterCA.CertFile,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + certs.serviceAccountKey,
		"--service-account-signing-key-file=" + certs.serviceAccountKey,
		// Room for 65,000 Services: every external VMInstance has one.
		"--service-cluster-ip-range=10.96.0.0/16",
		"--service-node-port-range=" + orDefault(e.opts.NodePortRange, "30000-32767"),
		"--authorization-mode=RBAC",
		"--endpoint-reconciler-type=none",
		"--requestheader-client-ca-file=" + certs.frontProxyCA.CertFile,
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--requestheader-uid-headers=X-Remote-Uid",
		"--proxy-client-cert-file=" + certs.frontProxy.CertFile,
		"--proxy-client-key-file=" + certs.frontProxy.KeyFile,
	}
	kas, err := startProcess(e.LogDir, "kube-apiserver", filepath.Join(e.BinDir, "kube-apiserver"), e.kubeAPIServerArgs...)
	if err != nil {
		return err
	}
	e.kubeAPIServer = len(e.processes)
	e.processes = append(e.processes, kas)

	e.AdminKubeconfig = filepath.Join(e.opts.Dir, "kubeconfig")
	if err := writeKubeconfig(e.AdminKubeconfig, apiserverURL, certs.clusterCA.CertFile, certs.admin); err != nil {
		return err
	}
	if e.Config, err = clientcmd.BuildConfigFromFlags("", e.AdminKubeconfig); err != nil {
		return err
	}
	// No client-side throttle: tests and benchmarks measure the servers,
	// not client-go's default limit of 5 requests per second.
	e.Config.QPS = -1
	return e.waitHealthy(ctx, kas)
}

// startControllerManager starts kube-controller-manager once the backend
// CRDs exist, so that its garbage collector watches VirtualMachines and
// DataVolumes from the start rather than from its next discovery resync.
func (e *Environment) startControllerManager() error {
	kcm, err := startProcess(e.LogDir, "kube-controller-manager", filepath.Join(e.BinDir, "kube-controller-manager"),
		"--kubeconfig="+e.AdminKubeconfig,
		"--authentication-kubeconfig="+e.AdminKubeconfig,
		"--authorization-kubeconfig="+e.AdminKubeconfig,
		// Garbage collection removes backend objects through owner
		// references, role aggregation fills the built-in roles, and
		// namespace deletion empties namespaces of every resource, every
		// namespace gets the default ServiceAccount that KubeVirt's and
		// CDI's pods run as (pod creation fails without it), and claims
		// CDI made go once no pod uses them.
		"--controllers=garbagecollector,clusterrole-aggregation,namespace,serviceaccount,pvc-protection",
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port=0",
	)
	if err != nil {
		return err
	}
	e.processes = append(e.processes, kcm)
	return nil
}

func (e *Environment) waitHealthy(ctx context.Context, kas *process) error {
	client, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		return err
	}
	return e.poll(ctx, "kube-apiserver to become ready", func(ctx context.Context) (bool, error) {
		if kas.exited() {
			return false, kas.failure()
		}
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && string(body) == "ok", nil
	})
}

// freePorts finds n distinct free TCP ports on the loopback interface.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
