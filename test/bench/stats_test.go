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
	"slices"
	"time"
)

// samples are the durations of one path's requests in one figure.
type samples []time.Duration

// quantile is the nearest-rank quantile q (0.5, 0.99): with fewer than a
// hundred samples p99 is the slowest.
func (s samples) quantile(q float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	sorted := slices.Clone(s)
	slices.Sort(sorted)
	rank := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}

func (s samples) p50() time.Duration { return s.quantile(0.5) }
func (s samples) p99() time.Duration { return s.quantile(0.99) }

// budget bounds a figure: it runs iterations times, or stops early once
// it has run min times and spent time, so that a slow server cannot push
// the whole run past its budget.
type budget struct {
	iterations, min int
	time            time.Duration
}

// within applies BENCH_ITERATIONS, which replaces every iteration count.
func (b budget) within(cfg config) budget {
	if cfg.iterations > 0 {
		b.iterations = cfg.iterations
		b.min = min(b.min, b.iterations)
	}
	return b
}

func (b budget) done(i int, started time.Time) bool {
	return i >= b.iterations || (i >= b.min && time.Since(started) >= b.time)
}

// compare times native and projected once per iteration, alternating which
// goes first so that neither always meets the caches the other warmed.
func compare(ctx context.Context, b budget, native, projected func(ctx context.Context, i int) error) (nat, proj samples, err error) {
	started := time.Now()
	for i := 0; !b.done(i, started); i++ {
		paths := []struct {
			name string
			do   func(context.Context, int) error
			into *samples
		}{{"native", native, &nat}, {"vm-apiserver", projected, &proj}}
		if i%2 == 1 {
			paths[0], paths[1] = paths[1], paths[0]
		}
		for _, p := range paths {
			start := time.Now()
			if err := p.do(ctx, i); err != nil {
				return nil, nil, fmt.Errorf("%s, iteration %d: %w", p.name, i, err)
			}
			*p.into = append(*p.into, time.Since(start))
		}
	}
	return nat, proj, nil
}

// duration prints d to three significant figures in a fitting unit.
func duration(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
}

// mib prints a size in MiB, or KiB below one MiB and GiB from one GiB.
func mib(bytes int64) string {
	switch {
	case bytes < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(bytes)/(1<<10))
	case bytes >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(bytes)/(1<<30))
	default:
		return fmt.Sprintf("%.1f MiB", float64(bytes)/(1<<20))
	}
}

func ratio(projected, native time.Duration) float64 {
	if native <= 0 {
		return 0
	}
	return float64(projected) / float64(native)
}
