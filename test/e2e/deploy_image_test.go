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
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"

	"github.com/cozystack/vm-apiserver/test/environment"
)

type ociDescriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

// readBlob reads a blob of an OCI layout and checks its digest and size.
func readBlob(t *testing.T, layout string, d ociDescriptor) []byte {
	t.Helper()
	algo, hexSum, _ := strings.Cut(d.Digest, ":")
	if algo != "sha256" {
		t.Fatalf("digest %s", d.Digest)
	}
	data, err := os.ReadFile(filepath.Join(layout, "blobs", "sha256", hexSum))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != hexSum || int64(len(data)) != d.Size {
		t.Fatalf("blob %s: digest or size (%d, want %d) does not match", d.Digest, len(data), d.Size)
	}
	return data
}

// TestDeployImage runs `make image` and reads the OCI image it writes:
// entrypoint, non-root user, no shell or other file than the binary, the CA
// certificates and the user database, and a binary that reports the version
// given at build time.
func TestDeployImage(t *testing.T) {
	repo, err := environment.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	const version = "v9.8.7-e2e"
	cmd := exec.Command("make", "image", "OUTPUT="+out, "VERSION="+version, "GIT_COMMIT=0123456789abcdef", "IMAGE=example.com/vm-apiserver:e2e")
	cmd.Dir = repo
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, output)
	}
	layout := filepath.Join(out, "image", "oci")

	var index struct {
		Manifests []struct {
			ociDescriptor
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(layout, "index.json"))), &index); err != nil {
		t.Fatal(err)
	}
	if len(index.Manifests) != 1 || index.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "example.com/vm-apiserver:e2e" {
		t.Fatalf("index: %+v", index)
	}
	var manifest struct {
		Config ociDescriptor   `json:"config"`
		Layers []ociDescriptor `json:"layers"`
	}
	if err := json.Unmarshal(readBlob(t, layout, index.Manifests[0].ociDescriptor), &manifest); err != nil {
		t.Fatal(err)
	}
	var config struct {
		OS     string `json:"os"`
		Config struct {
			User       string            `json:"User"`
			Entrypoint []string          `json:"Entrypoint"`
			Cmd        []string          `json:"Cmd"`
			Labels     map[string]string `json:"Labels"`
		} `json:"config"`
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(readBlob(t, layout, manifest.Config), &config); err != nil {
		t.Fatal(err)
	}
	if config.OS != "linux" || !slices.Equal(config.Config.Entrypoint, []string{"/usr/local/bin/vm-apiserver"}) || len(config.Config.Cmd) != 0 {
		t.Errorf("config: os %s, entrypoint %v, cmd %v", config.OS, config.Config.Entrypoint, config.Config.Cmd)
	}
	// Numeric, so that runAsNonRoot can check it without /etc/passwd.
	if config.Config.User != "65532:65532" {
		t.Errorf("user %q, want 65532:65532", config.Config.User)
	}
	if config.Config.Labels["org.opencontainers.image.version"] != version {
		t.Errorf("labels %v", config.Config.Labels)
	}
	if len(config.RootFS.DiffIDs) != len(manifest.Layers) {
		t.Fatalf("%d diff_ids for %d layers", len(config.RootFS.DiffIDs), len(manifest.Layers))
	}

	files := map[string][]byte{}
	for i, l := range manifest.Layers {
		zr, err := gzip.NewReader(bytes.NewReader(readBlob(t, layout, l)))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(raw)
		if "sha256:"+hex.EncodeToString(sum[:]) != config.RootFS.DiffIDs[i] {
			t.Errorf("layer %d does not match its diff_id", i)
		}
		tr := tar.NewReader(bytes.NewReader(raw))
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Typeflag == tar.TypeReg {
				data, _ := io.ReadAll(tr)
				files[h.Name] = data
				if h.Uid != 0 || h.Mode&0o022 != 0 {
					t.Errorf("%s: owner %d, mode %o: writable by the server's user", h.Name, h.Uid, h.Mode)
				}
			} else if h.Typeflag != tar.TypeDir {
				t.Errorf("%s: type %c, only files and directories expected", h.Name, h.Typeflag)
			}
		}
	}
	var names []string
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	// Nothing but these: no shell, no package manager.
	want := []string{"etc/group", "etc/passwd", "etc/ssl/certs/ca-certificates.crt", "usr/local/bin/vm-apiserver"}
	if !slices.Equal(names, want) {
		t.Errorf("image files %v, want %v", names, want)
	}
	if !strings.Contains(string(files["etc/passwd"]), "nonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd: %s", files["etc/passwd"])
	}
	if !strings.Contains(string(files["etc/ssl/certs/ca-certificates.crt"]), "BEGIN CERTIFICATE") {
		t.Error("no CA certificates")
	}
	if _, err := os.Stat(filepath.Join(out, "vm-apiserver-image.tar")); err != nil {
		t.Errorf("no oci-archive: %v", err)
	}

	// The image's binary reports the version it was built with.
	binary := filepath.Join(t.TempDir(), "vm-apiserver")
	if err := os.WriteFile(binary, files["usr/local/bin/vm-apiserver"], 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := exec.Command(binary, "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(got), "vm-apiserver "+version+" (commit 0123456789abcdef") {
		t.Errorf("--version: %q (%v)", got, err)
	}

	// The Dockerfile builds the same image.
	dockerfile := readFile(t, filepath.Join(repo, "Dockerfile"))
	if !containsAll(dockerfile, []string{"FROM scratch", "USER 65532:65532", `ENTRYPOINT ["/usr/local/bin/vm-apiserver"]`, "pkg/version.gitVersion=${VERSION}"}) {
		t.Error("the Dockerfile builds another image than make image")
	}
}

// TestDeployVersionEndpoint asks vm-apiserver itself (not through the
// aggregator, which answers /version for kube-apiserver) for its version.
func TestDeployVersionEndpoint(t *testing.T) {
	cfg := rest.CopyConfig(env.Config)
	cfg.Host = env.ServerURL
	cfg.TLSClientConfig.CAFile = ""
	cfg.TLSClientConfig.CAData = env.ServerCA()
	cfg.TLSClientConfig.ServerName = "localhost"
	client, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	info, err := client.ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	// The test environment builds without version flags.
	if info.GitVersion != "v0.0.0-dev" || info.Major != "0" || info.GoVersion == "" {
		t.Errorf("/version = %+v", info)
	}
}
