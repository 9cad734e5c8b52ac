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

# Fails when the generated code differs from what hack/update-codegen.sh
# produces now: regenerates into a copy of the tree and compares.
set -euo pipefail

SCRIPT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT

cp -a "${SCRIPT_ROOT}/." "${tmp}/"
rm -rf "${tmp}/_output"
(cd "${tmp}" && hack/update-codegen.sh >/dev/null)

for dir in pkg hack; do
  if ! diff -Naupr "${SCRIPT_ROOT}/${dir}" "${tmp}/${dir}"; then
    echo "generated code is out of date: run hack/update-codegen.sh" >&2
    exit 1
  fi
done
echo "generated code is up to date"
