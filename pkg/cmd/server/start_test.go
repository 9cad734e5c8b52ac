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

package server

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apiserver/pkg/util/compatibility"

	"github.com/cozystack/vm-apiserver/pkg/version"
)

func TestBackendRateLimitFlags(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		qps     float32
		burst   int
		invalid bool
	}{
		{args: nil, qps: 200, burst: 400},
		{args: []string{"--backend-qps=50", "--backend-burst=100"}, qps: 50, burst: 100},
		{args: []string{"--backend-qps=0"}, qps: 0, burst: 400, invalid: true},
		{args: []string{"--backend-burst=-1"}, qps: 200, burst: -1, invalid: true},
	} {
		o := NewOptions()
		fs := pflag.NewFlagSet("vm-apiserver", pflag.ContinueOnError)
		o.AddFlags(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		if o.BackendQPS != tc.qps || o.BackendBurst != tc.burst {
			t.Errorf("%v: qps %v burst %d, want %v %d", tc.args, o.BackendQPS, o.BackendBurst, tc.qps, tc.burst)
		}
		err := o.Validate()
		if tc.invalid != (err != nil && strings.Contains(err.Error(), "--backend-qps and --backend-burst must be positive")) {
			t.Errorf("%v: validation %v", tc.args, err)
		}
	}
}

func TestShutdownFlags(t *testing.T) {
	for _, tc := range []struct {
		args           []string
		delay, watch   time.Duration
		sendRetryAfter bool
		invalid        bool
	}{
		// Readiness fails first, late requests are told to retry, and
		// watches end by default.
		{args: nil, delay: 5 * time.Second, watch: 10 * time.Second, sendRetryAfter: true},
		{args: []string{"--shutdown-delay-duration=15s", "--shutdown-watch-termination-grace-period=30s", "--shutdown-send-retry-after=false"},
			delay: 15 * time.Second, watch: 30 * time.Second},
		{args: []string{"--shutdown-delay-duration=0"}, delay: 0, watch: 10 * time.Second, sendRetryAfter: true},
		{args: []string{"--shutdown-delay-duration=-1s"}, delay: -time.Second, watch: 10 * time.Second, sendRetryAfter: true, invalid: true},
		{args: []string{"--shutdown-watch-termination-grace-period=-1s"}, delay: 5 * time.Second, watch: -time.Second, sendRetryAfter: true, invalid: true},
	} {
		o := NewOptions()
		fs := pflag.NewFlagSet("vm-apiserver", pflag.ContinueOnError)
		o.AddFlags(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		if o.ShutdownDelay != tc.delay || o.ShutdownWatchTerminationGracePeriod != tc.watch || o.ShutdownSendRetryAfter != tc.sendRetryAfter {
			t.Errorf("%v: delay %v watch %v retry-after %v", tc.args, o.ShutdownDelay, o.ShutdownWatchTerminationGracePeriod, o.ShutdownSendRetryAfter)
		}
		err := o.Validate()
		if tc.invalid != (err != nil && strings.Contains(err.Error(), "must not be negative")) {
			t.Errorf("%v: validation %v", tc.args, err)
		}
	}
}

func TestVersionFlag(t *testing.T) {
	cmd := NewCommand(context.Background())
	var out bytes.Buffer
	cmd.SetOut(&out)
	// Nothing else is needed: no kubeconfig, no certificates.
	cmd.SetArgs([]string{"--version"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out.String()); got != version.String() {
		t.Errorf("--version printed %q, want %q", got, version.String())
	}
	// klog's verbosity keeps -v.
	if f := cmd.Flags().ShorthandLookup("v"); f != nil {
		t.Errorf("-v is the shorthand of --%s", f.Name)
	}
}

func TestVersionEndpointReportsOwnVersion(t *testing.T) {
	v := ownVersion{compatibility.DefaultBuildEffectiveVersion()}
	if got, want := *v.Info(), version.Get(); got != want {
		t.Errorf("/version serves %+v, want %+v", got, want)
	}
	// The features and APIs stay those of the Kubernetes libraries.
	if v.BinaryVersion().Major() != 1 {
		t.Errorf("effective binary version %v, want Kubernetes 1.x", v.BinaryVersion())
	}
}
