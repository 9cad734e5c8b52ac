#!/usr/bin/env bash
# Copyright The vm-apiserver Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
#

# Builds the real control-plane binaries the e2e tests and `make run` use
# (etcd, kube-apiserver, kube-controller-manager, kubectl) from the Go module
# proxy, into a cache outside the repository keyed by version. Prints the bin
# directory. A second call with the same version is a no-op.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.37.2}"
CACHE_ROOT="${VM_APISERVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vm-apiserver}"
work="${CACHE_ROOT}/control-plane-${KUBE_VERSION}"
bin="${work}/bin"

if [[ -x "${bin}/kube-apiserver" && -x "${bin}/kube-controller-manager" && -x "${bin}/kubectl" && -x "${bin}/etcd" ]]; then
  echo "${bin}"
  exit 0
fi

mkdir -p "${work}/src" "${bin}"
cd "${work}/src"

# Staging modules are versioned v0.X.Y for Kubernetes v1.X.Y.
staging_version="v0.${KUBE_VERSION#v1.}"

kube_gomod=$(go mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')
{
  echo "module vm-apiserver.local/control-plane"
  echo
  echo "go 1.26"
  echo
  echo "require k8s.io/kubernetes ${KUBE_VERSION}"
  echo
  echo "replace ("
  # kubernetes' own go.mod points every staging module at ./staging; here each
  # becomes the published module of the matching version.
  sed -n 's#^\s*\(k8s.io/[^ ]*\) => ./staging/src/k8s.io/.*$#\1#p' "${kube_gomod}" |
    while read -r mod; do echo "	${mod} => ${mod} ${staging_version}"; done
  echo ")"
} > go.mod

cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO

go mod tidy >&2

minor="${KUBE_VERSION#v1.}"
minor="${minor%%.*}"
ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X ${pkg}.gitVersion=${KUBE_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor}"
  ldflags+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=1970-01-01T00:00:00Z"
done

for cmd in kube-apiserver kube-controller-manager kubectl; do
  echo "building ${cmd} ${KUBE_VERSION}" >&2
  go build -trimpath -ldflags "${ldflags}" -o "${bin}/${cmd}.tmp" "k8s.io/kubernetes/cmd/${cmd}"
  mv "${bin}/${cmd}.tmp" "${bin}/${cmd}"
done
echo "building etcd" >&2
go build -trimpath -o "${bin}/etcd.tmp" go.etcd.io/etcd/server/v3
mv "${bin}/etcd.tmp" "${bin}/etcd"

echo "${bin}"
