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

package credentials

import "testing"

func TestSplitURLUserinfo(t *testing.T) {
	cases := []struct {
		raw, stripped, username, password, redacted string
		ok                                          bool
	}{
		{"https://example.com/x", "https://example.com/x", "", "", "https://example.com/x", false},
		{"https://u:p@example.com/x", "https://example.com/x", "u", "p", "https://u:(redacted)@example.com/x", true},
		{"https://u:p:q@h", "https://h", "u", "p:q", "https://u:(redacted)@h", true},
		{"https://a@b:c@h/x@y", "https://h/x@y", "a@b", "c", "https://a@b:(redacted)@h/x@y", true},
		{"https://h/path@x?q=a@b#c@d", "https://h/path@x?q=a@b#c@d", "", "", "https://h/path@x?q=a@b#c@d", false},
		{"https://h?u:p@x", "https://h?u:p@x", "", "", "https://h?u:p@x", false},
		{"u:p@h", "u:p@h", "", "", "u:p@h", false},
		{"https://u@h", "https://h", "u", "", "https://u:(redacted)@h", true},
	}
	for _, tc := range cases {
		stripped, username, password, _, ok := SplitURLUserinfo(tc.raw)
		if stripped != tc.stripped || username != tc.username || password != tc.password || ok != tc.ok {
			t.Errorf("SplitURLUserinfo(%q) = %q, %q, %q, %v", tc.raw, stripped, username, password, ok)
		}
		if got := RedactURL(tc.raw); got != tc.redacted {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.raw, got, tc.redacted)
		}
	}
}
