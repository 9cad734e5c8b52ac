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

package projection

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cozystack/vm-apiserver/pkg/backendnames"
)

func TestOwnedVersionsRoundTrip(t *testing.T) {
	var meta metav1.ObjectMeta
	OwnedVersions{OwnedKey("Service", "web"): "12", OwnedKey("Secret", "web-ssh-keys"): ""}.Record(&meta)
	got := OwnedVersionsOf(&meta)
	if got["Service/web"] != "12" || got["Secret/web-ssh-keys"] != "" || len(got) != 2 {
		t.Fatalf("read back %v", got)
	}
	if _, err := PublicMeta(&meta); err != nil || !backendnames.IsReservedKey(backendnames.OwnedVersionsAnnotation) {
		t.Fatalf("the record must be a reserved, hidden annotation: %v", err)
	}
}

func TestFreshness(t *testing.T) {
	at := func(rv string) metav1.Object {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{ResourceVersion: rv}}
	}
	versions := OwnedVersions{"Service/web": "12", "Secret/gone": ""}
	for _, c := range []struct {
		name   string
		key    string
		cached metav1.Object
		want   bool
	}{
		{"older copy", "Service/web", at("11"), false},
		{"same version", "Service/web", at("12"), true},
		{"newer copy", "Service/web", at("40"), true},
		{"missing copy of a written object", "Service/web", nil, false},
		{"deleted and gone", "Secret/gone", nil, true},
		{"deleted but still cached", "Secret/gone", at("3"), false},
		{"nothing recorded", "Secret/other", nil, true},
		{"nothing recorded, cached", "Secret/other", at("1"), true},
	} {
		if got := versions.Freshness(c.key).SatisfiedBy(c.cached); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
	if OwnedVersionsOf(&metav1.ObjectMeta{Annotations: map[string]string{backendnames.OwnedVersionsAnnotation: "not json"}}).Freshness("Service/web").Known {
		t.Error("an unreadable record must ask for nothing")
	}
}

func TestCovers(t *testing.T) {
	at := func(rv string) metav1.Object {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{ResourceVersion: rv}}
	}
	versions := OwnedVersions{"Service/web": "12", "Secret/gone": "", "Secret/odd": "x1"}
	for _, c := range []struct {
		name    string
		key     string
		current metav1.Object
		want    bool
	}{
		{"recorded newer", "Service/web", at("11"), true},
		{"recorded the same", "Service/web", at("12"), true},
		{"changed since", "Service/web", at("40"), false},
		{"deleted since", "Service/web", nil, false},
		{"recorded absent, still absent", "Secret/gone", nil, true},
		{"recorded absent, created since", "Secret/gone", at("3"), false},
		{"never recorded, absent", "Secret/other", nil, true},
		{"never recorded, present", "Secret/other", at("1"), false},
		{"not a revision, the same", "Secret/odd", at("x1"), true},
		{"not a revision, another", "Secret/odd", at("x2"), false},
	} {
		if got := versions.Covers(c.key, c.current); got != c.want {
			t.Errorf("%s: Covers = %v, want %v", c.name, got, c.want)
		}
	}
}
