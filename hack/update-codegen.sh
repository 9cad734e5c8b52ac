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

# Regenerates deepcopy, defaulters, conversions, OpenAPI definitions and the
# client (clientset, listers, informers, apply configurations) with
# k8s.io/code-generator, at the version go.mod requires.
set -euo pipefail

SCRIPT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${SCRIPT_ROOT}"
# go list names no directory for a module that is not downloaded yet, as on a
# fresh machine: the code generator is only imported by hack/tools.go.
go mod download k8s.io/code-generator
CODEGEN_PKG="$(go list -m -f '{{.Dir}}' k8s.io/code-generator)"
THIS_PKG="$(go list -m)"
BOILERPLATE="${SCRIPT_ROOT}/hack/boilerplate.go.txt"

# shellcheck source=/dev/null
source "${CODEGEN_PKG}/kube_codegen.sh"

kube::codegen::gen_helpers \
  --boilerplate "${BOILERPLATE}" \
  "${SCRIPT_ROOT}/pkg/apis"

kube::codegen::gen_openapi \
  --output-dir "${SCRIPT_ROOT}/pkg/generated/openapi" \
  --output-pkg "${THIS_PKG}/pkg/generated/openapi" \
  --output-model-name-file zz_generated.model_name.go \
  --report-filename "${SCRIPT_ROOT}/hack/api-rules-violations.list" \
  ${UPDATE_API_KNOWN_VIOLATIONS:+"--update-report"} \
  --boilerplate "${BOILERPLATE}" \
  "${SCRIPT_ROOT}/pkg/apis"

kube::codegen::gen_client \
  --with-watch \
  --with-applyconfig \
  --applyconfig-openapi-schema <(go run "${THIS_PKG}/hack/openapi-schema") \
  --output-dir "${SCRIPT_ROOT}/pkg/generated" \
  --output-pkg "${THIS_PKG}/pkg/generated" \
  --boilerplate "${BOILERPLATE}" \
  "${SCRIPT_ROOT}/pkg/apis"
