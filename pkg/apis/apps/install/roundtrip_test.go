package install

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/apitesting/roundtrip"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps/fuzzer"
)

// TestRoundTripTypes checks that every type survives encoding, decoding and
// conversion through the internal version unchanged.
func TestRoundTripTypes(t *testing.T) {
	roundtrip.RoundTripTestForAPIGroup(t, Install, fuzzer.Funcs)
}
