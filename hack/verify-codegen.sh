#!/usr/bin/env bash
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
