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
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// The KubeVirt and CDI versions the harness runs (hack/build-kubevirt-cdi.sh
// builds them) and the project supports.
const (
	KubeVirtVersion = "v1.7.0"
	CDIVersion      = "v1.65.0"
)

// backendBins are the directories of the KubeVirt and CDI binaries, each
// with the generator of its operator's objects (bin/generate).
type backendBins struct {
	kubevirt, cdi string
}

// buildBackend runs the project's build script, which caches the binaries
// outside the repository.
func buildBackend(ctx context.Context, repo string) (backendBins, error) {
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(repo, "hack", "build-kubevirt-cdi.sh"))
	cmd.Env = append(os.Environ(), "KUBEVIRT_VERSION="+KubeVirtVersion, "CDI_VERSION="+CDIVersion)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return backendBins{}, fmt.Errorf("building KubeVirt and CDI: %w", err)
	}
	lines := strings.Fields(string(out))
	if len(lines) != 2 {
		return backendBins{}, fmt.Errorf("build-kubevirt-cdi.sh printed %q, want two directories", out)
	}
	return backendBins{kubevirt: lines[0], cdi: lines[1]}, nil
}

// generate runs an operator generator and splits its output into the
// CustomResourceDefinitions and everything else.
func generate(ctx context.Context, binDir, namespace string) (crds, rest []*unstructured.Unstructured, err error) {
	out, err := exec.CommandContext(ctx, filepath.Join(binDir, "generate"), "-namespace", namespace).Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			err = fmt.Errorf("%w: %s", err, exit.Stderr)
		}
		return nil, nil, fmt.Errorf("%s/generate: %w", binDir, err)
	}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(out)))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return crds, rest, nil
		}
		if err != nil {
			return nil, nil, err
		}
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &obj.Object); err != nil {
			return nil, nil, err
		}
		if len(obj.Object) == 0 {
			continue
		}
		// What the operator would not send: status and null timestamps.
		delete(obj.Object, "status")
		unstructured.RemoveNestedField(obj.Object, "metadata", "creationTimestamp")
		if obj.GetKind() == "CustomResourceDefinition" {
			crds = append(crds, obj)
		} else {
			rest = append(rest, obj)
		}
	}
}

// pointAtLocal makes the operator's admission webhooks call a local process
// at baseURL (the path stays the operator's) and its APIServices go through
// an ExternalName Service to the same port, trusting caPEM for both, as the
// operators inject their CA bundles.
func pointAtLocal(objs []*unstructured.Unstructured, baseURL string, port int64, caPEM []byte) error {
	// Unstructured objects hold JSON values: a caBundle is base64.
	caBundle := base64.StdEncoding.EncodeToString(caPEM)
	for _, obj := range objs {
		switch obj.GetKind() {
		case "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration":
			hooks, _, err := unstructured.NestedSlice(obj.Object, "webhooks")
			if err != nil {
				return err
			}
			for i := range hooks {
				hook := hooks[i].(map[string]any)
				cc, _ := hook["clientConfig"].(map[string]any)
				svc, _ := cc["service"].(map[string]any)
				if svc == nil {
					return fmt.Errorf("webhook %s/%v has no service", obj.GetName(), hook["name"])
				}
				path, _ := svc["path"].(string)
				hook["clientConfig"] = map[string]any{"url": baseURL + path, "caBundle": caBundle}
			}
			if err := unstructured.SetNestedSlice(obj.Object, hooks, "webhooks"); err != nil {
				return err
			}
		case "APIService":
			if err := unstructured.SetNestedField(obj.Object, port, "spec", "service", "port"); err != nil {
				return err
			}
			if err := unstructured.SetNestedField(obj.Object, caBundle, "spec", "caBundle"); err != nil {
				return err
			}
		}
	}
	return nil
}

// applyObjects writes objects to a file and applies it server-side with the
// real kubectl, as an operator would create them.
func (e *Environment) applyObjects(ctx context.Context, name string, objs []*unstructured.Unstructured) error {
	var b bytes.Buffer
	for _, o := range objs {
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			return err
		}
		b.WriteString("---\n")
		b.Write(data)
	}
	path := filepath.Join(e.opts.Dir, name+".yaml")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return err
	}
	_, err := e.Kubectl(ctx, "", "apply", "--server-side", "--force-conflicts", "--field-manager=operator", "-f", path)
	return err
}

// applyCRDs applies CRDs and waits until they are served.
func (e *Environment) applyCRDs(ctx context.Context, name string, crds []*unstructured.Unstructured) error {
	if err := e.applyObjects(ctx, name, crds); err != nil {
		return err
	}
	_, err := e.Kubectl(ctx, "", "wait", "--for=condition=Established", "--timeout=60s", "-f", filepath.Join(e.opts.Dir, name+".yaml"))
	return err
}

// waitServing waits until a component answers HTTPS on url with a
// certificate the cluster CA signed (any status: the listener is up).
func (e *Environment) waitServing(ctx context.Context, p *process, url string) error {
	client := e.componentClient(2 * time.Second)
	return e.poll(ctx, p.name+" to serve "+url, func(ctx context.Context) (bool, error) {
		if p.exited() {
			return false, p.failure()
		}
		resp, err := client.Get(url)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return true, nil
	})
}

// componentClient speaks HTTPS to the components whose serving
// certificates the cluster CA signed. Its uses are one-off probes, so it
// keeps no idle connection open after them.
func (e *Environment) componentClient(timeout time.Duration) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(e.caPEM)
	return &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true},
	}
}

// backend is what KubeVirt's and CDI's operators would install, from their
// own code (hack/backend-gen), and where their binaries are.
type backend struct {
	bins backendBins
	// crds by name, and the rest of each operator's objects.
	crds                  map[string]*unstructured.Unstructured
	crdList               []*unstructured.Unstructured
	kubevirtObjs, cdiObjs []*unstructured.Unstructured
}

func prepareBackend(ctx context.Context, repo string) (*backend, error) {
	bins, err := buildBackend(ctx, repo)
	if err != nil {
		return nil, err
	}
	b := &backend{bins: bins, crds: map[string]*unstructured.Unstructured{}}
	kvCRDs, kvObjs, err := generate(ctx, bins.kubevirt, KubeVirtNamespace)
	if err != nil {
		return nil, err
	}
	cdiCRDs, cdiObjs, err := generate(ctx, bins.cdi, CDINamespace)
	if err != nil {
		return nil, err
	}
	b.kubevirtObjs, b.cdiObjs = kvObjs, cdiObjs
	for _, crd := range append(kvCRDs, cdiCRDs...) {
		b.crds[crd.GetName()] = crd
		b.crdList = append(b.crdList, crd)
	}
	return b, nil
}

// installBackendCRDs installs KubeVirt's and CDI's CRDs before any
// component runs: virt-controller and cdi-controller wait for them.
func (e *Environment) installBackendCRDs(ctx context.Context) error {
	return e.applyCRDs(ctx, "backend-crds", e.backend.crdList)
}

// startBackend starts KubeVirt and CDI; virt-controller's informers need
// CDI's CRDs, which exist by then.
func (e *Environment) startBackend(ctx context.Context) error {
	if err := e.startCDI(ctx, e.backend.bins.cdi, e.backend.cdiObjs); err != nil {
		return err
	}
	return e.startKubeVirt(ctx, e.backend.bins.kubevirt, e.backend.kubevirtObjs)
}

// BackendCRD writes the CRD name (e.g. "datavolumes.cdi.kubevirt.io") as
// KubeVirt or CDI install it to a file and returns the file, for tests
// that remove a CRD and put it back.
func (e *Environment) BackendCRD(name string) (string, error) {
	crd, ok := e.backend.crds[name]
	if !ok {
		return "", fmt.Errorf("no backend CRD %s", name)
	}
	data, err := yaml.Marshal(crd.Object)
	if err != nil {
		return "", err
	}
	path := filepath.Join(e.opts.Dir, "crd-"+name+".yaml")
	return path, os.WriteFile(path, data, 0o644)
}

// splitAdmission separates webhook configurations and APIServices, which
// may only be installed once the process serving them runs, from the rest
// (service accounts, RBAC), which it needs before it starts.
func splitAdmission(objs []*unstructured.Unstructured) (admission, rest []*unstructured.Unstructured) {
	for _, o := range objs {
		switch o.GetKind() {
		case "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "APIService":
			admission = append(admission, o)
		default:
			rest = append(rest, o)
		}
	}
	return admission, rest
}

// supervise restarts the component in processes[slot] whenever it exits on
// its own, as the kubelet restarts a pod's container: virt-controller exits
// on purpose when an API it watches (CDI's) goes away or appears, to start
// over. Each restart logs to a file of its own, after restartBackoff, as the
// kubelet backs off.
func (e *Environment) supervise(slot int, name string, start func(logName string) (*process, error)) {
	go func() {
		for restarts := 1; ; restarts++ {
			e.supervision.Lock()
			p := e.processes[slot]
			e.supervision.Unlock()
			<-p.done
			<-time.After(restartBackoff)
			e.supervision.Lock()
			if e.stopping || e.processes[slot] != p {
				e.supervision.Unlock()
				return
			}
			next, err := start(fmt.Sprintf("%s-restart-%d", name, restarts))
			if err == nil {
				e.processes[slot] = next
			}
			e.supervision.Unlock()
			if err != nil {
				return
			}
		}
	}()
}

const restartBackoff = time.Second
