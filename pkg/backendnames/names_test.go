package backendnames

import (
	"strings"
	"testing"
)

func TestDataVolumeClaimants(t *testing.T) {
	got := strings.Join(DataVolumeClaimants("a-b-c"), ",")
	if got != "a,a-b" {
		t.Fatalf("claimants of a-b-c: %s", got)
	}
	if len(DataVolumeClaimants("abc")) != 0 || len(DataVolumeClaimants("-a-")) != 0 {
		t.Fatal("a name without an inner dash has no claimant")
	}
}
