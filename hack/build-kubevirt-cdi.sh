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

# Builds the KubeVirt and CDI components the e2e tests and `make run` start
# beside kube-apiserver (virt-controller, virt-api, cdi-controller,
# cdi-apiserver) from the Go module proxy, plus two small generators that ask
# KubeVirt's and CDI's own operator code for the CRDs, webhook configurations
# and APIService their operators would install (hack/backend-gen/*.go). Each
# project is built in a tools module of its own, generated here, because they
# pin Kubernetes libraries far older than vm-apiserver's. Output goes to a
# cache outside the repository keyed by version; prints the two bin
# directories. A second call with the same versions is a no-op.
#
# Facts this relies on (checked with the module proxy):
# - KubeVirt v1.8 and later import kubevirt.io/virt-template-client-go, which
#   the proxy refuses (403); v1.7.0 is the newest that builds.
# - Both go.mod files point their staging modules (kubevirt.io/api,
#   client-go, containerized-data-importer-api) at ./staging; here they
#   become the published modules of the same version.
# - CDI's go.mod has a malformed replace
#   (k8s.io/dynamic-resource-allocation => dynamic-resource-allocation v0.31.5)
#   that go refuses; it is dropped.
# - The checksum database answers 404 for the github.com/rhobs and
#   github.com/openshift versions they pin, though the proxy serves the
#   modules, hence GONOSUMDB below.
set -euo pipefail

KUBEVIRT_VERSION="${KUBEVIRT_VERSION:-v1.7.0}"
CDI_VERSION="${CDI_VERSION:-v1.65.0}"
CACHE_ROOT="${VM_APISERVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vm-apiserver}"
gen_src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/backend-gen"
export GONOSUMDB="${GONOSUMDB:+${GONOSUMDB},}github.com/rhobs,github.com/openshift"
export GOFLAGS="${GOFLAGS:-} -mod=mod"

# write_gomod MODULE VERSION STAGING... writes go.mod for a tools module that
# requires MODULE@VERSION with MODULE's own replace block, its staging modules
# pointed at VERSION and malformed lines (no module path) dropped.
write_gomod() {
  local module="$1" version="$2"
  shift 2
  local gomod
  gomod=$(go mod download -json "${module}@${version}" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')
  {
    echo "module vm-apiserver.local/$(basename "${module}")-tools"
    echo
    echo "go 1.26"
    echo
    echo "require ${module} ${version}"
    echo
    echo "replace ("
    # Every "a => b v" line of the upstream replace block whose target is a
    # module path (contains a dot before the first slash) is kept; staging
    # (./staging/...) and the malformed line are not.
    sed -n '/^replace (/,/^)/p' "${gomod}" |
      sed -n 's#^\s*\([^ ]*\) => \([^ ./][^ /]*\.[^ ]*\) \(v[^ ]*\)\s*$#\1 => \2 \3#p' |
      while read -r line; do echo "	${line}"; done
    for staging in "$@"; do echo "	${staging} => ${staging} ${version}"; done
    echo ")"
  } > go.mod
}

# build_tools DIR BIN GENERATOR PKG... builds each PKG (a main package path)
# into BIN, named by its last element, then GENERATOR (a file from
# hack/backend-gen) into BIN/generate. Skips what is already there; the
# generator is rebuilt when its source changed.
build_tools() {
  local dir="$1" bin="$2" generator="$3"
  shift 3
  cd "${dir}"
  for pkg in "$@"; do
    local name="${pkg##*/}"
    if [[ ! -x "${bin}/${name}" ]]; then
      echo "building ${name}" >&2
      nice go build -trimpath -o "${bin}/${name}.tmp" "${pkg}"
      mv "${bin}/${name}.tmp" "${bin}/${name}"
    fi
  done
  if ! cmp -s "${gen_src}/${generator}" "${dir}/generate.go" || [[ ! -x "${bin}/generate" ]]; then
    echo "building ${generator}" >&2
    cp "${gen_src}/${generator}" "${dir}/generate.go"
    nice go build -trimpath -o "${bin}/generate.tmp" ./generate.go
    mv "${bin}/generate.tmp" "${bin}/generate"
  fi
}

# prepare DIR TOOLS_GO MODULE VERSION STAGING... makes the tools module once.
prepare() {
  local dir="$1" tools="$2" module="$3" version="$4"
  shift 4
  mkdir -p "${dir}/src" "${dir}/bin"
  if [[ -f "${dir}/src/go.sum" ]]; then return; fi
  cd "${dir}/src"
  write_gomod "${module}" "${version}" "$@"
  printf '%s\n' "${tools}" > tools.go
  # -e: test-only imports of some dependencies fail the checksum database
  # the same way; nothing built here needs them.
  nice go mod tidy -e >&2
}

kv="${CACHE_ROOT}/kubevirt-${KUBEVIRT_VERSION}"
prepare "${kv}" '//go:build tools

package tools

import (
	_ "kubevirt.io/kubevirt/cmd/virt-api"
	_ "kubevirt.io/kubevirt/cmd/virt-controller"
	_ "kubevirt.io/kubevirt/pkg/virt-operator/resource/generate/components"
	_ "kubevirt.io/kubevirt/pkg/virt-operator/resource/generate/rbac"
	_ "sigs.k8s.io/yaml"
)' kubevirt.io/kubevirt "${KUBEVIRT_VERSION}" kubevirt.io/api kubevirt.io/client-go
build_tools "${kv}/src" "${kv}/bin" kubevirt.go \
  kubevirt.io/kubevirt/cmd/virt-controller kubevirt.io/kubevirt/cmd/virt-api

cdi="${CACHE_ROOT}/cdi-${CDI_VERSION}"
prepare "${cdi}" '//go:build tools

package tools

import (
	_ "kubevirt.io/containerized-data-importer/cmd/cdi-apiserver"
	_ "kubevirt.io/containerized-data-importer/cmd/cdi-controller"
	_ "kubevirt.io/containerized-data-importer/pkg/operator/resources/cluster"
	_ "kubevirt.io/containerized-data-importer/pkg/operator/resources/namespaced"
	_ "sigs.k8s.io/controller-runtime/pkg/client/fake"
	_ "sigs.k8s.io/yaml"
)' kubevirt.io/containerized-data-importer "${CDI_VERSION}" kubevirt.io/containerized-data-importer-api
# Three places in CDI's commands assume a pod of their own, with the network
# and file system to themselves. Outside a cluster they would need root and
# clash with each other and with any second environment on the machine, so
# the build uses a patched copy of CDI's cmd/ and pkg/ (go refuses overlays
# of the module cache), each patch a one-line substitution checked to apply:
# - cdi-controller reads the token signing key pair from the constant
#   /var/run/cdi/token/keys, where the operator mounts the key Secret: made
#   relative, so the harness puts the keys under the process's directory;
# - cdi-controller serves metrics on :8443, cdi-apiserver's fixed port:
#   metrics off ("0");
# - cdi-apiserver listens on the constants 0.0.0.0:8443: read from
#   CDI_APISERVER_LISTEN_HOST and CDI_APISERVER_LISTEN_PORT instead (a file
#   the patch adds; defaults as upstream).
cdi_patch() {
  local src="$1" dst="$2"
  rm -rf "${dst}"
  mkdir -p "${dst}"
  cp -r "${src}/go.mod" "${src}/cmd" "${src}/pkg" "${dst}/"
  chmod -R u+w "${dst}"
  substitute() { # FILE SED-EXPRESSION EXPECTED-AFTER
    sed -i "$2" "${dst}/$1"
    if ! grep -qF -- "$3" "${dst}/$1"; then
      echo "build-kubevirt-cdi: patching $1 failed; CDI changed?" >&2
      exit 1
    fi
  }
  substitute pkg/controller/clone-controller.go \
    's#TokenKeyDir = "/var/run/cdi/token/keys"#TokenKeyDir = "var/run/cdi/token/keys"#' 'TokenKeyDir = "var/run'
  substitute cmd/cdi-controller/controller.go 's#BindAddress:   ":8443",#BindAddress:   "0",#' 'BindAddress:   "0",'
  substitute cmd/cdi-apiserver/apiserver.go \
    's#NewCdiAPIServer(defaultHost,#NewCdiAPIServer(listenHost(defaultHost),#; s#^\(\s*\)defaultPort,$#\1listenPort(defaultPort),#' \
    'listenPort(defaultPort),'
  cat > "${dst}/cmd/cdi-apiserver/zz_listen.go" <<'GO'
package main

import (
	"os"
	"strconv"
)

func listenHost(def string) string {
	if h := os.Getenv("CDI_APISERVER_LISTEN_HOST"); h != "" {
		return h
	}
	return def
}

func listenPort(def uint) uint {
	if p, err := strconv.ParseUint(os.Getenv("CDI_APISERVER_LISTEN_PORT"), 10, 16); err == nil {
		return uint(p)
	}
	return def
}
GO
}
if [[ ! -f "${cdi}/src/cdi-patched/cmd/cdi-apiserver/zz_listen.go" ]]; then
  cdi_patch "$(cd "${cdi}/src" && go list -m -f '{{.Dir}}' kubevirt.io/containerized-data-importer)" "${cdi}/src/cdi-patched"
  (cd "${cdi}/src" && go mod edit -replace kubevirt.io/containerized-data-importer=./cdi-patched)
fi
build_tools "${cdi}/src" "${cdi}/bin" cdi.go \
  kubevirt.io/containerized-data-importer/cmd/cdi-controller kubevirt.io/containerized-data-importer/cmd/cdi-apiserver

echo "${kv}/bin"
echo "${cdi}/bin"
