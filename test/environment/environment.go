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
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
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

type certificates struct {
	clusterCA, frontProxyCA                        *authority
	apiserverServing, admin, frontProxy, vmServing keyPair
	serviceAccountKey                              string
}

func (e *Environment) makeCertificates() (*certificates, error) {
	dir := filepath.Join(e.opts.Dir, "pki")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var c certificates
	var err error
	if c.clusterCA, err = newAuthority(dir, "cluster-ca"); err != nil {
		return nil, err
	}
	if c.frontProxyCA, err = newAuthority(dir, "front-proxy-ca"); err != nil {
		return nil, err
	}
	issues := []struct {
		into      *keyPair
		ca        *authority
		name, cn  string
		orgs      []string
		hostnames []string
	}{
		{&c.apiserverServing, c.clusterCA, "kube-apiserver", "kube-apiserver", nil, []string{kubeAPIServerSAN, "127.0.0.1"}},
		{&c.admin, c.clusterCA, "admin", "admin", []string{"system:masters"}, nil},
		{&c.frontProxy, c.frontProxyCA, "front-proxy-client", "front-proxy-client", nil, nil},
		// The aggregator dials <service>.<namespace>.svc whatever the
		// service resolves to.
		{&c.vmServing, c.clusterCA, "vm-apiserver-serving", ServerService, nil,
			[]string{ServerService + "." + ServerNamespace + ".svc", "localhost", "127.0.0.1"}},
	}
	for _, i := range issues {
		if *i.into, err = i.ca.issue(dir, i.name, i.cn, i.orgs, i.hostnames); err != nil {
			return nil, err
		}
	}
	c.serviceAccountKey = filepath.Join(dir, "service-account.key")
	e.caPEM = c.clusterCA.PEM()
	e.certs = &c
	return &c, writeSigningKey(c.serviceAccountKey)
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

// installBackend installs, once KubeVirt and CDI run (their webhooks check
// it), the catalogue, the storage and OS images the tests use, and what
// vm-apiserver needs to run: its namespace and its identity's rights.
func (e *Environment) installBackend(ctx context.Context) error {
	// The instance types, preferences and OS images VMInstances refer to.
	if _, err := e.Kubectl(ctx, "", "apply", "--server-side", "-k", filepath.Join(e.opts.RepoRoot, "artifacts", "catalogue")); err != nil {
		return err
	}
	testing := filepath.Join(e.opts.RepoRoot, "artifacts", "testing")
	if _, err := e.Kubectl(ctx, "", "apply", "--server-side",
		"-f", filepath.Join(testing, "storage-classes.yaml"), "-f", filepath.Join(testing, "os-images.yaml")); err != nil {
		return err
	}
	// vm-apiserver's namespace, service account and least-privilege
	// roles, as shipped, and the tenant roles aggregated into view, edit and
	// admin; not the rest of the kustomization (Deployment, Service,
	// APIService): here vm-apiserver is a process, registered below.
	// The optional OS-image clone grant too: KubeVirt refuses every root
	// disk without it.
	deploy := filepath.Join(e.opts.RepoRoot, "artifacts", "deploy")
	if _, err := e.Kubectl(ctx, "", "apply", "--server-side",
		"-f", filepath.Join(deploy, "components", "os-image-clone-grant", "clone-grant.yaml")); err != nil {
		return err
	}
	if _, err := e.Kubectl(ctx, "", "apply", "--server-side",
		"-f", filepath.Join(deploy, "namespace.yaml"),
		"-f", filepath.Join(deploy, "server-rbac.yaml"),
		"-f", filepath.Join(deploy, "tenant-roles.yaml")); err != nil {
		return err
	}
	return e.writeServerKubeconfig(ctx)
}

// writeServerKubeconfig gives vm-apiserver the identity of its service
// account, through a token from the TokenRequest API.
func (e *Environment) writeServerKubeconfig(ctx context.Context) error {
	return e.writeServiceAccountKubeconfig(ctx, ServerNamespace, ServerServiceAccount, e.ServerKubeconfig())
}

// writeServiceAccountKubeconfig writes a kubeconfig with the identity of a
// service account, through a token from the TokenRequest API.
func (e *Environment) writeServiceAccountKubeconfig(ctx context.Context, namespace, name, path string) error {
	client, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		return err
	}
	expiry := int64((24 * time.Hour).Seconds())
	token, err := client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: e.Config.Host, CertificateAuthority: e.Config.CAFile}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: token.Status.Token}
	cfg.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: name}
	cfg.CurrentContext = "local"
	return clientcmd.WriteToFile(*cfg, path)
}

// startServer runs vm-apiserver and registers it: an ExternalName Service
// pointing at localhost and an APIService trusting its CA.
func (e *Environment) startServer(ctx context.Context, binary string) error {
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	e.serverBinary, e.serverPort = binary, ports[0]
	server, err := startProcessWithEnv(e.LogDir, "vm-apiserver", binary, e.opts.ServerEnv, e.serverArgs(ports[0])...)
	if err != nil {
		return err
	}
	e.processes = append(e.processes, server)
	e.ServerURL = "https://127.0.0.1:" + strconv.Itoa(ports[0])

	client, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		return err
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: ServerService, Namespace: ServerNamespace},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "localhost"},
	}
	if _, err := client.CoreV1().Services(ServerNamespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	agg, err := aggregator.NewForConfig(e.Config)
	if err != nil {
		return err
	}
	port := int32(ports[0])
	apiService := &apiregistrationv1.APIService{
		ObjectMeta: metav1.ObjectMeta{Name: APIServiceName},
		Spec: apiregistrationv1.APIServiceSpec{
			Group:                "apps.cozystack.io",
			Version:              "v1alpha1",
			Service:              &apiregistrationv1.ServiceReference{Namespace: ServerNamespace, Name: ServerService, Port: &port},
			CABundle:             e.caPEM,
			GroupPriorityMinimum: 1000,
			VersionPriority:      100,
		},
	}
	if _, err := agg.ApiregistrationV1().APIServices().Create(ctx, apiService, metav1.CreateOptions{}); err != nil {
		return err
	}
	return e.poll(ctx, "the vm-apiserver APIService to become available", func(ctx context.Context) (bool, error) {
		if server.exited() {
			return false, server.failure()
		}
		got, err := agg.ApiregistrationV1().APIServices().Get(ctx, APIServiceName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		return servesAPI(got, client), nil
	})
}

// servesAPI tells whether the APIService is available and discovery
// through it lists vm-apiserver's resources.
func servesAPI(svc *apiregistrationv1.APIService, client kubernetes.Interface) bool {
	for _, c := range svc.Status.Conditions {
		if c.Type == apiregistrationv1.Available && c.Status == apiregistrationv1.ConditionTrue {
			resources, err := client.Discovery().ServerResourcesForGroupVersion(apiGroupVersion)
			return err == nil && len(resources.APIResources) > 0
		}
	}
	return false
}

func (e *Environment) poll(ctx context.Context, what string, done wait.ConditionWithContextFunc) error {
	err := wait.PollUntilContextTimeout(ctx, pollInterval, startupTimeout, true, done)
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("waiting for %s (logs in %s): %w", what, e.LogDir, err)
	}
	return err
}

func writeKubeconfig(path, server, caFile string, user keyPair) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: caFile}
	cfg.AuthInfos["user"] = &clientcmdapi.AuthInfo{ClientCertificate: user.CertFile, ClientKey: user.KeyFile}
	cfg.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "user"}
	cfg.CurrentContext = "local"
	return clientcmd.WriteToFile(*cfg, path)
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

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
