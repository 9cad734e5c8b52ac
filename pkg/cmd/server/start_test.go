package server

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
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
