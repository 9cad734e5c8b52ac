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

# Puts the licence header of hack/boilerplate.go.txt (the one the code
# generators write) on every tracked Go file, shell script, Makefile and
# Dockerfile that lacks it. With --verify it changes nothing and fails,
# listing them, when one does.
set -euo pipefail
cd "$(dirname "$0")/.."

boilerplate=hack/boilerplate.go.txt
marker='Copyright The vm-apiserver Authors.'
verify=false
[[ "${1:-}" == "--verify" ]] && verify=true

# The header as # comments, for scripts and the Makefile.
hash_header=$(sed -e '/^\/\*$/d' -e '/^\*\/$/d' -e 's/^/# /' -e 's/ $//' "$boilerplate")

missing=()
while IFS= read -r file; do
	head -n 20 "$file" | grep -qF "$marker" && continue
	missing+=("$file")
	$verify && continue
	tmp=$(mktemp)
	case "$file" in
	*.go)
		# After build constraints, which only line comments may precede.
		constraints=$(awk '/^\/\/(go:build| \+build)/ { n = NR; next } { exit } END { print n + 0 }' "$file")
		# gofmt leaves one blank line between the parts.
		if ((constraints > 0)); then
			{ head -n "$constraints" "$file"; echo; cat "$boilerplate"; echo; tail -n +"$((constraints + 1))" "$file"; } | gofmt >"$tmp"
		else
			{ cat "$boilerplate"; echo; cat "$file"; } | gofmt >"$tmp"
		fi
		;;
	*)
		# After a shebang, if any.
		if head -n 1 "$file" | grep -q '^#!'; then
			{ head -n 1 "$file"; echo "$hash_header"; echo; tail -n +2 "$file"; } >"$tmp"
		else
			{ echo "$hash_header"; echo; cat "$file"; } >"$tmp"
		fi
		;;
	esac
	cat "$tmp" >"$file" # keeps the file's mode
	rm -f "$tmp"
done < <(git ls-files '*.go' '*.sh' Makefile Dockerfile .ci/run)

if $verify && ((${#missing[@]} > 0)); then
	echo "files without the licence header (run hack/update-headers.sh):" >&2
	printf '  %s\n' "${missing[@]}" >&2
	exit 1
fi
