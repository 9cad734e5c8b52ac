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

# vm-apiserver: `make run` starts the local playground, `make test` runs
# every check CI runs.

SHELL := /bin/bash
GO ?= go
OUTPUT := _output
E2E_TIMEOUT ?= 40m

.PHONY: all build run test verify test-unit test-e2e test-bench bench control-plane kubevirt-cdi codegen clean image

# The version `vm-apiserver --version` and /version report, set at build
# time by `make image` (and the Dockerfile): the nearest v* tag, else
# v0.0.0-dev; the commit and its date, so that a rebuild is identical.
VERSION ?= $(shell git describe --tags --match 'v*' --dirty 2>/dev/null || echo v0.0.0-dev)
GIT_COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
GIT_TREE_STATE ?= $(shell test -z "$$(git status --porcelain --untracked-files=no 2>/dev/null)" && echo clean || echo dirty)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
BUILD_DATE ?= $(shell date -u -d @$(SOURCE_DATE_EPOCH) +%Y-%m-%dT%H:%M:%SZ)
VERSION_PKG := github.com/cozystack/vm-apiserver/pkg/version
LDFLAGS := -s -w -X $(VERSION_PKG).gitVersion=$(VERSION) -X $(VERSION_PKG).gitCommit=$(GIT_COMMIT) \
	-X $(VERSION_PKG).gitTreeState=$(GIT_TREE_STATE) -X $(VERSION_PKG).buildDate=$(BUILD_DATE)
IMAGE ?= ghcr.io/cozystack/vm-apiserver:$(VERSION)
IMAGE_ARCH ?= $(shell $(GO) env GOARCH)

all: build

build:
	$(GO) build -o $(OUTPUT)/bin/vm-apiserver ./cmd/vm-apiserver

# The playground: control plane, KubeVirt, CDI and vm-apiserver, in the
# foreground until Ctrl-C.
run: control-plane kubevirt-cdi
	$(GO) build -o $(OUTPUT)/bin/playground ./hack/playground
	exec $(OUTPUT)/bin/playground

test: verify test-unit test-e2e test-bench

verify:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	hack/verify-codegen.sh
	hack/verify-headers.sh

test-unit:
	$(GO) test -count=1 ./pkg/...

# Builds the control plane, KubeVirt and CDI first (minutes when cold,
# cached afterwards) so that the build does not count against the test
# timeout. The benchmarks
# run once each, on the same control plane, so that they keep working.
# -v: the reliability tests print what they counted (writers, accepted,
# conflicts, lost).
test-e2e: control-plane kubevirt-cdi
	$(GO) test -count=1 -v -timeout $(E2E_TIMEOUT) -bench . -benchtime 1x ./test/e2e/...

# The scale benchmark once, at 50 VMInstances and two iterations of each
# figure, so that it keeps working; it asserts no timing.
test-bench: control-plane kubevirt-cdi
	BENCH_SCALES=50 BENCH_ITERATIONS=2 $(GO) test -count=1 -v -timeout 10m ./test/bench/

# The scale benchmark (test/bench): each of BENCH_SCALES VMInstances in
# turn, every request through vm-apiserver against the same request for the
# VirtualMachines made directly, in one loop; prints the table and writes it
# to $(OUTPUT)/bench.md (see docs/benchmarks.md). BENCH_PROFILE_DIR=dir
# also saves vm-apiserver's CPU profile of each figure group and its heap.
BENCH_SCALES ?= 1000 10000
BENCH_TIMEOUT ?= 40m
bench: control-plane kubevirt-cdi
	BENCH_SCALES="$(BENCH_SCALES)" BENCH_OUTPUT=$(OUTPUT)/bench.md BENCH_PROFILE_DIR="$(BENCH_PROFILE_DIR)" \
	  $(GO) test -count=1 -v -timeout $(BENCH_TIMEOUT) ./test/bench/

control-plane:
	hack/build-control-plane.sh

# virt-api, virt-controller (KubeVirt), cdi-apiserver, cdi-controller (CDI)
# and the generators of their operators' objects, cached like the control
# plane.
kubevirt-cdi:
	hack/build-kubevirt-cdi.sh

codegen:
	hack/update-codegen.sh

# The container image, without a container engine: a static binary on a
# base built from scratch (CA certificates, a non-root user), written as an
# OCI image layout ($(OUTPUT)/image/oci) and as an oci-archive
# ($(OUTPUT)/vm-apiserver-image.tar) for podman load, docker load, skopeo or
# crane. The Dockerfile builds the same image with a container engine.
image:
	CGO_ENABLED=0 GOOS=linux GOARCH=$(IMAGE_ARCH) $(GO) build -trimpath -ldflags "$(LDFLAGS)" \
	  -o $(OUTPUT)/image/vm-apiserver ./cmd/vm-apiserver
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(GO) run ./hack/image -binary $(OUTPUT)/image/vm-apiserver \
	  -out $(OUTPUT)/image/oci -archive $(OUTPUT)/vm-apiserver-image.tar -ref $(IMAGE) \
	  -version $(VERSION) -revision $(GIT_COMMIT) -arch $(IMAGE_ARCH)

clean:
	rm -rf $(OUTPUT)
