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

// Package version is vm-apiserver's own version, set at build time:
//
//	go build -ldflags "-X github.com/cozystack/vm-apiserver/pkg/version.gitVersion=v0.1.0 \
//	  -X github.com/cozystack/vm-apiserver/pkg/version.gitCommit=$(git rev-parse HEAD) \
//	  -X github.com/cozystack/vm-apiserver/pkg/version.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
//
// (`make image` and the Dockerfile do). It is kept apart from
// k8s.io/component-base/version on purpose: that one is the Kubernetes
// version of the libraries, from which k8s.io/apiserver derives its effective
// version and so which features and APIs exist; setting it to vm-apiserver's
// own version would make a v0.1 server emulate Kubernetes 0.1.
package version

import (
	"fmt"
	"regexp"
	"runtime"

	apimachineryversion "k8s.io/apimachinery/pkg/version"
)

// Set by -ldflags -X at build time.
var (
	gitVersion   = "v0.0.0-dev"
	gitCommit    = ""
	gitTreeState = ""
	buildDate    = "1970-01-01T00:00:00Z"
)

var semver = regexp.MustCompile(`^v?([0-9]+)\.([0-9]+)`)

// Get is vm-apiserver's version in the form /version serves.
func Get() apimachineryversion.Info {
	info := apimachineryversion.Info{
		GitVersion:   gitVersion,
		GitCommit:    gitCommit,
		GitTreeState: gitTreeState,
		BuildDate:    buildDate,
		GoVersion:    runtime.Version(),
		Compiler:     runtime.Compiler,
		Platform:     runtime.GOOS + "/" + runtime.GOARCH,
	}
	if m := semver.FindStringSubmatch(gitVersion); m != nil {
		info.Major, info.Minor = m[1], m[2]
	}
	return info
}

// String is the one line `vm-apiserver --version` prints.
func String() string {
	info := Get()
	s := "vm-apiserver " + info.GitVersion
	if info.GitCommit != "" {
		s += fmt.Sprintf(" (commit %s", info.GitCommit)
		if info.GitTreeState != "" && info.GitTreeState != "clean" {
			s += ", " + info.GitTreeState
		}
		s += ")"
	}
	return s + fmt.Sprintf(", built %s with %s for %s", info.BuildDate, info.GoVersion, info.Platform)
}
