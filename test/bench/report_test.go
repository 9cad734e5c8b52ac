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
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// target is what the issue holds a figure to, as a ratio of vm-apiserver
// to native.
type target struct {
	// limit is the ratio to stay at or below (at or above with atLeast).
	limit   float64
	atLeast bool
	// atP99 judges the p99 ratio, otherwise the p50 one.
	atP99 bool
}

func (t *target) String() string {
	if t == nil {
		return ""
	}
	op, at := "≤", "p50"
	if t.atLeast {
		op, at = "≥", "rate"
	}
	if t.atP99 {
		at = "p99"
	}
	return fmt.Sprintf("%s %.1f× (%s)", op, t.limit, at)
}

func (t *target) verdict(p50, p99 float64) string {
	if t == nil {
		return ""
	}
	r := p50
	if t.atP99 {
		r = p99
	}
	if r <= 0 {
		return "no data"
	}
	if (t.atLeast && r >= t.limit) || (!t.atLeast && r <= t.limit) {
		return "met"
	}
	return "**not met**"
}

// row is one line of a scale's table.
type row struct {
	figure                   string
	projected50, projected99 string
	native50, native99       string
	ratio50, ratio99         string
	target, verdict          string
	samples                  int
	// headline is the absolute figure the summary shows, if not the two
	// p50s.
	headline string
}

// latencyRow compares two paths' durations: ratio is vm-apiserver's over
// native.
func latencyRow(figure string, nat, proj samples, t *target) row {
	r50, r99 := ratio(proj.p50(), nat.p50()), ratio(proj.p99(), nat.p99())
	return row{
		figure:      figure,
		projected50: duration(proj.p50()), projected99: duration(proj.p99()),
		native50: duration(nat.p50()), native99: duration(nat.p99()),
		ratio50: fmt.Sprintf("%.2f×", r50), ratio99: fmt.Sprintf("%.2f×", r99),
		target: t.String(), verdict: t.verdict(r50, r99), samples: min(len(nat), len(proj)),
	}
}

// scaleResult is everything measured at one population size.
type scaleResult struct {
	n                 int
	populate, elapsed time.Duration
	rows              []row
	notes             []string
	// perPage is the paginated LIST's p50 per page (vm-apiserver, native),
	// to see whether it stays flat as N grows.
	perPage [2]time.Duration
}

func (s *scaleResult) add(r row) { s.rows = append(s.rows, r) }
func (s *scaleResult) note(format string, args ...any) {
	s.notes = append(s.notes, fmt.Sprintf(format, args...))
}

// markdown is the whole report: the machine, then a table per scale.
func markdown(results []*scaleResult, started time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# vm-apiserver at scale (`make bench`)\n\n%s\n\n", machine(started))
	b.WriteString("Each figure times the request through vm-apiserver (VMInstances, through the aggregator) and the same request for the VirtualMachines made directly to kube-apiserver, alternating in one loop. The ratio is vm-apiserver's over native (for CREATE: vm-apiserver's rate over native's). Targets are the issue's, for 10,000 VMInstances; at other scales they are indicative. p99 of fewer than 100 samples is the slowest sample.\n")
	b.WriteString(summary(results))
	for _, s := range results {
		fmt.Fprintf(&b, "\n## %d VMInstances\n\nPopulated in %s (two through vm-apiserver, the rest copies of their backend objects); measured in %s.\n\n",
			s.n, s.populate.Round(time.Second), s.elapsed.Round(time.Second))
		b.WriteString("| figure | vm-apiserver p50 | vm-apiserver p99 | native p50 | native p99 | ratio p50 | ratio p99 | target | result | samples |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
		for _, r := range s.rows {
			count := ""
			if r.samples > 0 {
				count = fmt.Sprint(r.samples)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.figure,
				r.projected50, r.projected99, r.native50, r.native99, r.ratio50, r.ratio99, r.target, r.verdict, count)
		}
		for _, n := range s.notes {
			fmt.Fprintf(&b, "\n- %s", n)
		}
		b.WriteString("\n")
	}
	if len(results) > 1 {
		b.WriteString(flatness(results))
	}
	return b.String()
}

// summary is one line per figure across the scales: the ratios at each,
// the absolute figures and the verdict at the largest. Every scale has the
// same figures in the same order.
func summary(results []*scaleResult) string {
	last := results[len(results)-1]
	var b strings.Builder
	b.WriteString("\n## Summary\n\n| figure | target |")
	for _, s := range results {
		fmt.Fprintf(&b, " ratio at %d, p50 (p99) |", s.n)
	}
	fmt.Fprintf(&b, " vm-apiserver / native at %d, p50 | result at %d |\n|---|---|", last.n, last.n)
	b.WriteString(strings.Repeat("---|", len(results)+2) + "\n")
	for i, r := range last.rows {
		fmt.Fprintf(&b, "| %s | %s |", r.figure, r.target)
		for _, s := range results {
			cell := s.rows[i].ratio50
			if s.rows[i].ratio99 != "" {
				cell += " (" + s.rows[i].ratio99 + ")"
			}
			fmt.Fprintf(&b, " %s |", cell)
		}
		headline := r.headline
		if headline == "" {
			headline = r.projected50 + " / " + r.native50
		}
		fmt.Fprintf(&b, " %s | %s |\n", headline, r.verdict)
	}
	return b.String()
}

// flatness compares the paginated LIST's cost per page at the smallest
// and largest scale: flat in N means vm-apiserver's grows no faster than
// kube-apiserver's (allowing a quarter for noise).
func flatness(results []*scaleResult) string {
	first, last := results[0], results[len(results)-1]
	var b strings.Builder
	b.WriteString("\n## Paginated LIST per page (limit 500), p50\n\n| VMInstances | vm-apiserver | native |\n|---|---|---|\n")
	for _, s := range results {
		fmt.Fprintf(&b, "| %d | %s | %s |\n", s.n, duration(s.perPage[0]), duration(s.perPage[1]))
	}
	growth := ratio(last.perPage[0], first.perPage[0])
	nativeGrowth := ratio(last.perPage[1], first.perPage[1])
	verdict := "met"
	if growth > 1.25*nativeGrowth {
		verdict = "**not met**"
	}
	fmt.Fprintf(&b, "\nFrom %d to %d VMInstances a page grows %.2f× through vm-apiserver and %.2f× natively: flat in N (no faster than native, +25%%) %s.\n",
		first.n, last.n, growth, nativeGrowth, verdict)
	return b.String()
}

// machine says where and when the run was: absolute times depend on it.
func machine(started time.Time) string {
	cpu := "unknown CPU"
	if info, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(info), "\n") {
			if name, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
				break
			}
		}
	}
	memory := "unknown"
	if info, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kib int64
		if _, err := fmt.Sscanf(string(info), "MemTotal: %d kB", &kib); err == nil {
			memory = fmt.Sprintf("%.0f GiB", float64(kib)/(1<<20))
		}
	}
	load, _ := os.ReadFile("/proc/loadavg")
	commit, _ := exec.Command("git", "-C", repo, "describe", "--always", "--dirty").Output()
	version, _ := exec.Command(filepath.Join(env.BinDir, "kube-apiserver"), "--version").Output()
	flags := strings.Join(append(serverEnv, serverFlags...), " ")
	return fmt.Sprintf("Run %s at %s; %d CPUs (%s), %s memory, load average at the end %s; %s/%s, %s; vm-apiserver run as: %s; control plane %s (etcd, kube-apiserver, kube-controller-manager as processes).",
		started.UTC().Format("2006-01-02 15:04 MST"), strings.TrimSpace(string(commit)), runtime.NumCPU(), cpu, memory,
		strings.Join(strings.Fields(string(load))[:min(3, len(strings.Fields(string(load))))], " "),
		runtime.GOOS, runtime.GOARCH, runtime.Version(), flags, strings.TrimSpace(string(version)))
}
