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
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// rss is a process's resident set size in bytes, from /proc/PID/status.
func rss(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		if value, ok := strings.CutPrefix(scanner.Text(), "VmRSS:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
			return kib << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// peakSampler records a process's highest RSS, read every 100 ms, between
// start and stop: Go's heap peaks during large lists and falls back soon
// after, so a reading at the end would miss it.
type peakSampler struct {
	pid  int
	stop chan struct{}
	done sync.WaitGroup
	peak int64
	err  error
}

func startSampler(pid int) *peakSampler {
	s := &peakSampler{pid: pid, stop: make(chan struct{})}
	s.done.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			v, err := rss(s.pid)
			if err != nil {
				s.err = err
				return
			}
			s.peak = max(s.peak, v)
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	})
	return s
}

// finish stops sampling and returns the peak.
func (s *peakSampler) finish() (int64, error) {
	close(s.stop)
	s.done.Wait()
	return s.peak, s.err
}
