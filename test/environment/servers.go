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

package environment

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
)

// serverArgs are the flags of a vm-apiserver on port: the environment's
// serving certificate and the server's service-account identity, then the
// Options' ServerArgs.
func (e *Environment) serverArgs(port int) []string {
	pki := filepath.Join(e.opts.Dir, "pki")
	kubeconfig := e.ServerKubeconfig()
	return append([]string{
		"--secure-port=" + strconv.Itoa(port),
		"--bind-address=127.0.0.1",
		"--tls-cert-file=" + filepath.Join(pki, "vm-apiserver-serving.crt"),
		"--tls-private-key-file=" + filepath.Join(pki, "vm-apiserver-serving.key"),
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--v=2",
	}, e.opts.ServerArgs...)
}

// ServerPort is the port of the environment's own vm-apiserver, the one the
// APIService points at unless a test re-points it.
func (e *Environment) ServerPort() int { return e.serverPort }

// ServerCA is the PEM CA certificate vm-apiserver's serving certificate is
// signed by (the APIService's caBundle).
func (e *Environment) ServerCA() []byte { return e.caPEM }

// ServerProcess is a vm-apiserver a test runs beside the environment's own:
// a second replica, or one with other flags. Environment.Stop stops it too.
type ServerProcess struct {
	env  *Environment
	name string
	args []string
	// Port is where it listens, on 127.0.0.1, across restarts.
	Port int
	// URL is https://127.0.0.1:Port.
	URL    string
	proc   *process
	starts int
}

// StartServerProcess starts another vm-apiserver with the environment's
// flags (identity, serving certificate, ServerArgs) on a free port, args
// after them (a flag given again wins), and waits until /readyz is ok. Its
// log is name.log in LogDir.
func (e *Environment) StartServerProcess(ctx context.Context, name string, args ...string) (*ServerProcess, error) {
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	s := &ServerProcess{env: e, name: name, Port: ports[0], URL: "https://127.0.0.1:" + strconv.Itoa(ports[0])}
	s.args = append(e.serverArgs(s.Port), args...)
	return s, s.Start(ctx)
}

// Start starts the process again after Stop, on the same port with the same
// flags, and waits until /readyz is ok.
func (s *ServerProcess) Start(ctx context.Context) error {
	if s.proc != nil && !s.proc.exited() {
		return fmt.Errorf("%s is running", s.name)
	}
	name := s.name
	if s.starts > 0 {
		name = fmt.Sprintf("%s-%d", s.name, s.starts)
	}
	s.starts++
	p, err := startProcessWithEnv(s.env.LogDir, name, s.env.serverBinary, s.env.opts.ServerEnv, s.args...)
	if err != nil {
		return err
	}
	s.proc = p
	s.env.processes = append(s.env.processes, p)
	return s.env.poll(ctx, name+" to become ready", func(ctx context.Context) (bool, error) {
		if p.exited() {
			return false, p.failure()
		}
		return s.Ready(ctx), nil
	})
}

// Ready reports whether /readyz answers ok now.
func (s *ServerProcess) Ready(ctx context.Context) bool {
	return Ready(ctx, s.URL)
}

// Ready reports whether the vm-apiserver at url answers ok on /readyz (an
// open path; the serving certificate is not checked).
func Ready(ctx context.Context, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/readyz", nil)
	if err != nil {
		return false
	}
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // a probe, as the kubelet's
		DisableKeepAlives: true,
	}}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == http.StatusOK && string(body) == "ok"
}

// Stop sends SIGTERM, as the kubelet does, and waits for the process to
// exit (killing it after 15 s). It returns the exit error, nil for a clean
// exit.
func (s *ServerProcess) Stop() error {
	if s.proc == nil {
		return nil
	}
	s.proc.stop()
	return s.proc.err
}

// Signal sends SIGTERM and returns at once; Wait waits for the exit.
func (s *ServerProcess) Signal() error {
	return s.proc.cmd.Process.Signal(syscall.SIGTERM)
}

// Wait waits until the process has exited and returns its exit error.
func (s *ServerProcess) Wait(ctx context.Context) error {
	select {
	case <-s.proc.done:
		return s.proc.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// PID is the operating system's id of the running process.
func (s *ServerProcess) PID() int { return s.proc.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (s *ServerProcess) Exited() bool { return s.proc.exited() }

// PointAPIService makes the aggregator send apps.cozystack.io requests to
// 127.0.0.1:port (the APIService's ExternalName Service resolves to
// localhost) and waits until the APIService is available and the group's
// discovery answers. PointAPIService(ctx, ServerPort()) puts it back.
func (e *Environment) PointAPIService(ctx context.Context, port int) error {
	agg, err := aggregator.NewForConfig(e.Config)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		return err
	}
	err = e.poll(ctx, "the APIService to take the new port", func(ctx context.Context) (bool, error) {
		svc, err := agg.ApiregistrationV1().APIServices().Get(ctx, APIServiceName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		p := int32(port)
		svc.Spec.Service.Port = &p
		_, err = agg.ApiregistrationV1().APIServices().Update(ctx, svc, metav1.UpdateOptions{})
		return err == nil, nil
	})
	if err != nil {
		return err
	}
	return e.poll(ctx, "the re-pointed APIService to become available", func(ctx context.Context) (bool, error) {
		got, err := agg.ApiregistrationV1().APIServices().Get(ctx, APIServiceName, metav1.GetOptions{})
		if err != nil || got.Spec.Service.Port == nil || int(*got.Spec.Service.Port) != port {
			return false, nil
		}
		return servesAPI(got, client), nil
	})
}
