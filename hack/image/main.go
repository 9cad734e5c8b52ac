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

// Command image writes vm-apiserver's container image as an OCI image
// layout, without a container engine: a base built from scratch (CA
// certificates, /etc/passwd and /etc/group with the non-root user 65532,
// /tmp) and the static vm-apiserver binary, run as that user. No shell, no
// package manager, nothing else. `make image` runs it; the result loads with
// `podman load`, `docker load` (Docker 25 and later), `skopeo copy
// oci-archive:…` or `crane push`.
//
// The layers are reproducible: fixed timestamps (SOURCE_DATE_EPOCH, else
// 0), owners and modes, and gzip without a name or time.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"
)

const (
	// The non-root user the server runs as (distroless' "nonroot").
	uid         = 65532
	binaryPath  = "usr/local/bin/vm-apiserver"
	caPath      = "etc/ssl/certs/ca-certificates.crt"
	mediaLayout = "application/vnd.oci.image.index.v1+json"
	mediaMan    = "application/vnd.oci.image.manifest.v1+json"
	mediaConfig = "application/vnd.oci.image.config.v1+json"
	mediaLayer  = "application/vnd.oci.image.layer.v1.tar+gzip"
)

func main() {
	binary := flag.String("binary", "", "the static vm-apiserver binary (CGO_ENABLED=0, GOOS=linux)")
	caBundle := flag.String("ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "PEM bundle of CA certificates to put in the image")
	out := flag.String("out", "", "directory to write the OCI image layout to (replaced)")
	archive := flag.String("archive", "", "also write the layout as this tar file (an oci-archive)")
	ref := flag.String("ref", "vm-apiserver:dev", "image name and tag, recorded in the layout's index")
	version := flag.String("version", "", "version, as a label")
	revision := flag.String("revision", "", "source revision, as a label")
	arch := flag.String("arch", "amd64", "GOARCH the binary was built for")
	flag.Parse()
	if *binary == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: image -binary FILE -out DIR [-archive FILE] [-ref NAME:TAG] [-version V] [-revision R] [-arch ARCH]")
		os.Exit(2)
	}
	if err := run(*binary, *caBundle, *out, *archive, *ref, *version, *revision, *arch); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

type entry struct {
	name string
	mode int64
	dir  bool
	data []byte
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *platform         `json:"platform,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

func run(binaryFile, caFile, out, archive, ref, version, revision, arch string) error {
	mtime := time.Unix(0, 0).UTC()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH: %w", err)
		}
		mtime = time.Unix(sec, 0).UTC()
	}
	bin, err := os.ReadFile(binaryFile)
	if err != nil {
		return err
	}
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("CA certificates (-ca-bundle): %w", err)
	}
	base := []entry{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{name: "etc/group", mode: 0o644, data: []byte("root:x:0:\nnonroot:x:65532:\n")},
		{name: "etc/ssl/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/", mode: 0o755, dir: true},
		{name: caPath, mode: 0o644, data: ca},
		{name: "home/", mode: 0o755, dir: true},
		{name: "home/nonroot/", mode: 0o700, dir: true},
		{name: "tmp/", mode: 0o1777, dir: true},
	}
	app := []entry{
		{name: "usr/", mode: 0o755, dir: true},
		{name: "usr/local/", mode: 0o755, dir: true},
		{name: "usr/local/bin/", mode: 0o755, dir: true},
		{name: binaryPath, mode: 0o755, data: bin},
	}

	if err := os.RemoveAll(out); err != nil {
		return err
	}
	blobs := filepath.Join(out, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		return err
	}
	writeBlob := func(data []byte) (string, error) {
		sum := sha256.Sum256(data)
		hexSum := hex.EncodeToString(sum[:])
		return "sha256:" + hexSum, os.WriteFile(filepath.Join(blobs, hexSum), data, 0o644)
	}

	var layers []descriptor
	var diffIDs []string
	for _, l := range [][]entry{base, app} {
		raw, err := tarball(l, mtime)
		if err != nil {
			return err
		}
		diffSum := sha256.Sum256(raw)
		diffIDs = append(diffIDs, "sha256:"+hex.EncodeToString(diffSum[:]))
		gz, err := gzipped(raw)
		if err != nil {
			return err
		}
		digest, err := writeBlob(gz)
		if err != nil {
			return err
		}
		layers = append(layers, descriptor{MediaType: mediaLayer, Digest: digest, Size: int64(len(gz))})
	}

	labels := map[string]string{
		"org.opencontainers.image.title":       "vm-apiserver",
		"org.opencontainers.image.description": "Aggregated API server for apps.cozystack.io VMInstance and VMDisk",
		"org.opencontainers.image.source":      "https://github.com/cozystack/vm-apiserver",
	}
	if version != "" {
		labels["org.opencontainers.image.version"] = version
	}
	if revision != "" {
		labels["org.opencontainers.image.revision"] = revision
	}
	config := map[string]any{
		"created":      mtime.Format(time.RFC3339),
		"architecture": arch,
		"os":           "linux",
		"config": map[string]any{
			"User":         fmt.Sprintf("%d:%d", uid, uid),
			"Entrypoint":   []string{"/" + binaryPath},
			"Env":          []string{"PATH=/usr/local/bin", "SSL_CERT_FILE=/" + caPath},
			"WorkingDir":   "/",
			"ExposedPorts": map[string]any{"8443/tcp": map[string]any{}},
			"Labels":       labels,
		},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": diffIDs},
		"history": []map[string]any{{"created": mtime.Format(time.RFC3339), "created_by": "hack/image: base (CA certificates, passwd, group, tmp)"}, {"created": mtime.Format(time.RFC3339), "created_by": "hack/image: vm-apiserver"}},
	}
	configJSON, err := json.Marshal(config)
	if err != nil {
		return err
	}
	configDigest, err := writeBlob(configJSON)
	if err != nil {
		return err
	}
	manifest := map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaMan,
		"config":        descriptor{MediaType: mediaConfig, Digest: configDigest, Size: int64(len(configJSON))},
		"layers":        layers,
		"annotations":   map[string]string{"org.opencontainers.image.version": version, "org.opencontainers.image.revision": revision},
	}
	manifestJSON, err := json.Marshal(manifest)
	if err != nil {
		return err
	}
	manifestDigest, err := writeBlob(manifestJSON)
	if err != nil {
		return err
	}
	index := map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaLayout,
		"manifests": []descriptor{{
			MediaType: mediaMan, Digest: manifestDigest, Size: int64(len(manifestJSON)),
			Platform: &platform{Architecture: arch, OS: "linux"},
			// containerd and podman read the image name from these.
			Annotations: map[string]string{"org.opencontainers.image.ref.name": ref, "io.containerd.image.name": ref},
		}},
	}
	indexJSON, err := json.Marshal(index)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "index.json"), indexJSON, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		return err
	}
	if archive != "" {
		if err := archiveDir(out, archive, mtime); err != nil {
			return err
		}
	}
	fmt.Printf("%s %s\n", ref, manifestDigest)
	return nil
}

func tarball(entries []entry, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, ModTime: mtime, Format: tar.FormatPAX, Uname: "root", Gname: "root"}
		if e.name == "home/nonroot/" {
			h.Uid, h.Gid, h.Uname, h.Gname = uid, uid, "nonroot", "nonroot"
		}
		if e.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func gzipped(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// archiveDir writes the layout directory as a tar, in name order.
func archiveDir(dir, file string, mtime time.Time) error {
	var names []string
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if path != dir {
			names = append(names, path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(names)
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for _, path := range names {
		info, err := os.Stat(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: mtime, Mode: 0o644, Format: tar.FormatPAX}
		if info.IsDir() {
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, h.Name+"/", 0o755
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		h.Typeflag, h.Size = tar.TypeReg, int64(len(data))
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}
