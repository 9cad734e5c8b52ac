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
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// The target for vm-apiserver's RSS: at most rssLimit at
// rssLimitScale VMInstances.
const (
	rssLimit      = 300 << 20
	rssLimitScale = 10000
)

// TestScale grows the population to each of BENCH_SCALES in turn and
// measures every figure at each, writing the report after each scale so
// that a failure later keeps what was measured.
func TestScale(t *testing.T) {
	cfg := readConfig(t)
	c := newClients(t)
	started := time.Now()
	server, kas := env.PID("vm-apiserver"), env.PID("kube-apiserver")
	if server == 0 || kas == 0 {
		t.Fatal("vm-apiserver or kube-apiserver is not running")
	}
	// What vm-apiserver holds with no VMInstance at all, to tell what
	// each one adds.
	empty, err := rss(server)
	if err != nil {
		t.Fatal(err)
	}
	prof := newProfiler(t, cfg.profileDir)
	p := &population{c: c}
	var results []*scaleResult
	for _, n := range cfg.scales {
		res := &scaleResult{n: n}
		serverPeak, kasPeak := startSampler(server), startSampler(kas)
		begin := time.Now()
		p.grow(t, n)
		res.populate = time.Since(begin)
		serverIdle, err := rss(server)
		if err != nil {
			t.Fatal(err)
		}
		kasIdle, err := rss(kas)
		if err != nil {
			t.Fatal(err)
		}
		prof.heap(t, fmt.Sprintf("%d-heap", n))

		queuedBefore := virtControllerQueue()
		begin = time.Now()
		for _, measure := range []struct {
			name, file string
			run        func()
		}{
			{"LIST and GET", "requests", func() { measureRequests(t, c, cfg, n, res) }},
			{"watch", "watch", func() { measureWatch(t, c, cfg, n, res) }},
			{"informers", "informers", func() { measureInformers(t, c, cfg, n, res) }},
			{"CREATE", "create", func() { measureCreates(t, p, cfg, n, res) }},
		} {
			figureStart := time.Now()
			prof.during(t, fmt.Sprintf("%d-%s", n, measure.file), measure.run)
			t.Logf("%d VMInstances: %s measured in %s", n, measure.name, time.Since(figureStart).Round(time.Millisecond))
		}
		res.elapsed = time.Since(begin)
		res.note("virt-controller had %s VMs queued when the figures began and %s when they ended (its workqueue metrics): what it still had to do ran beside both paths.", queuedBefore, virtControllerQueue())

		serverMax, err := serverPeak.finish()
		if err != nil {
			t.Fatal(err)
		}
		kasMax, err := kasPeak.finish()
		if err != nil {
			t.Fatal(err)
		}
		res.add(memoryRow(n, serverIdle, serverMax, kasIdle, kasMax, empty))
		res.note("RSS: vm-apiserver %s before any VMInstance; after populating and at the peak (sampled every 100 ms while populating and measuring) against kube-apiserver's. Per VMInstance: (after populating − before any) / N.", mib(empty))
		if prof != nil {
			res.note("Profiled (which slows vm-apiserver a little): CPU profiles of each figure group and the heap after populating in %s, %d-*.pprof, with -top summaries in %d-*.txt.", prof.dir, n, n)
		}
		results = append(results, res)
		writeReport(t, cfg, results, started)
	}
	fmt.Print("\n" + markdown(results, started))
	t.Logf("report written to %s", cfg.output)
}

// memoryRow is vm-apiserver's RSS against kube-apiserver's; the target is
// judged on the peak, at 10,000 VMInstances and above.
func memoryRow(n int, serverIdle, serverPeak, kasIdle, kasPeak, empty int64) row {
	verdict := fmt.Sprintf("(judged at %d)", rssLimitScale)
	if n >= rssLimitScale {
		verdict = "met"
		if serverPeak > rssLimit {
			verdict = "**not met**"
		}
	}
	perObject := float64(serverIdle-empty) / float64(n) / 1024
	return row{
		figure:      "RSS after populating / peak (vm-apiserver vs kube-apiserver)",
		projected50: mib(serverIdle), projected99: mib(serverPeak),
		native50: mib(kasIdle), native99: mib(kasPeak),
		ratio50: fmt.Sprintf("%.1f KiB per VMInstance", perObject),
		target:  fmt.Sprintf("peak ≤ %s", mib(rssLimit)), verdict: verdict,
		headline: fmt.Sprintf("peak %s / kube-apiserver %s", mib(serverPeak), mib(kasPeak)),
	}
}

func writeReport(t *testing.T, cfg config, results []*scaleResult, started time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(cfg.output), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.output, []byte(markdown(results, started)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// virtControllerQueue is how many VMs virt-controller has yet to take up,
// for the report: a reading that fails (virt-controller restarting) says
// so there rather than failing the run.
func virtControllerQueue() string {
	queued, err := env.VirtControllerQueue(context.Background())
	if err != nil {
		return fmt.Sprintf("an unknown number of (%v)", err)
	}
	return strconv.Itoa(queued)
}
