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

package version

import (
	"strings"
	"testing"
)

func TestGet(t *testing.T) {
	defer func(v, c, s, d string) { gitVersion, gitCommit, gitTreeState, buildDate = v, c, s, d }(gitVersion, gitCommit, gitTreeState, buildDate)

	gitVersion, gitCommit, gitTreeState, buildDate = "v1.4.2-rc.1", "0123abc", "dirty", "2026-01-02T03:04:05Z"
	info := Get()
	if info.Major != "1" || info.Minor != "4" || info.GitVersion != "v1.4.2-rc.1" || info.GitCommit != "0123abc" || info.BuildDate != "2026-01-02T03:04:05Z" {
		t.Errorf("Get() = %+v", info)
	}
	if s := String(); !strings.HasPrefix(s, "vm-apiserver v1.4.2-rc.1 (commit 0123abc, dirty), built 2026-01-02T03:04:05Z with go") {
		t.Errorf("String() = %q", s)
	}

	// Not a semantic version (an untagged build): no major and minor,
	// the text as given.
	gitVersion, gitCommit = "4a1e6d5", ""
	info = Get()
	if info.Major != "" || info.Minor != "" || info.GitVersion != "4a1e6d5" {
		t.Errorf("Get() = %+v", info)
	}
	if s := String(); !strings.HasPrefix(s, "vm-apiserver 4a1e6d5, built ") {
		t.Errorf("String() = %q", s)
	}
}
