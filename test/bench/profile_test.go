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

package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
)

// profileChunk is the length of one CPU profile: a figure group is
// profiled in chunks back to back, since its length is not known in
// advance, and the chunks are merged. The group's end waits for the last
// chunk, at most this long.
const profileChunk = 5

// profiler takes vm-apiserver's CPU profile while each figure group runs,
// and its heap profile after populating, into dir (BENCH_PROFILE_DIR),
// each with a text summary beside it (go tool pprof -top). Profiling slows
// the server a little: the run's ratios are then not the ones to report.
type profiler struct {
	dir    string
	client *http.Client
}

// newProfiler is nil, profiling nothing, unless dir is set.
func newProfiler(t *testing.T, dir string) *profiler {
	t.Helper()
	if dir == "" {
		return nil
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(repo, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// vm-apiserver itself, not through the aggregator (which forwards
	// only its API group), as cluster admin: debug endpoints need
	// authorization.
	cfg := rest.CopyConfig(env.Config)
	cfg.Host = env.ServerURL
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &profiler{dir: dir, client: client}
}

func (p *profiler) fetch(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, env.ServerURL+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %s: %s", path, resp.Status, body)
	}
	return body, err
}

// heap saves the heap profile as name.
func (p *profiler) heap(t *testing.T, name string) {
	t.Helper()
	if p == nil {
		return
	}
	body, err := p.fetch(context.Background(), "/debug/pprof/heap")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(p.dir, name+".pprof")
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
	summarise(t, path, "-sample_index=inuse_space")
}

// during runs run while taking CPU profiles, and saves them merged as name.
func (p *profiler) during(t *testing.T, name string, run func()) {
	t.Helper()
	if p == nil {
		run()
		return
	}
	stop := make(chan struct{})
	done := make(chan error, 1)
	var chunks []string
	go func() {
		for i := 0; ; i++ {
			body, err := p.fetch(context.Background(), fmt.Sprintf("/debug/pprof/profile?seconds=%d", profileChunk))
			if err == nil {
				chunk := filepath.Join(p.dir, fmt.Sprintf("%s.%d.chunk", name, i))
				err = os.WriteFile(chunk, body, 0o644)
				chunks = append(chunks, chunk)
			}
			if err != nil {
				done <- err
				return
			}
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
		}
	}()
	run()
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("profiling %s: %v", name, err)
	}
	path := filepath.Join(p.dir, name+".pprof")
	pprof(t, append([]string{"-proto", "-output", path}, chunks...)...)
	for _, chunk := range chunks {
		os.Remove(chunk)
	}
	summarise(t, path, "-cum")
}

// pprof runs go tool pprof with args.
func pprof(t *testing.T, args ...string) []byte {
	t.Helper()
	out, err := exec.Command("go", append([]string{"tool", "pprof"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof %v: %v: %s", args, err, out)
	}
	return out
}

// summarise writes the top functions of the profile at path (.pprof) to a
// .txt beside it.
func summarise(t *testing.T, path string, args ...string) {
	t.Helper()
	out := pprof(t, append(append([]string{"-top", "-nodecount=40"}, args...), path)...)
	if err := os.WriteFile(strings.TrimSuffix(path, ".pprof")+".txt", out, 0o644); err != nil {
		t.Fatal(err)
	}
}
