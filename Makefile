# vm-apiserver: `make run` starts the local playground, `make test` runs
# every check CI runs.

SHELL := /bin/bash
GO ?= go
OUTPUT := _output
E2E_TIMEOUT ?= 40m

.PHONY: all build run test verify test-unit test-e2e bench control-plane codegen crds clean

all: build

build:
	$(GO) build -o $(OUTPUT)/bin/vm-apiserver ./cmd/vm-apiserver

# The playground: control plane, backend CRDs and vm-apiserver, in the
# foreground until Ctrl-C.
run:
	$(GO) build -o $(OUTPUT)/bin/playground ./hack/playground
	exec $(OUTPUT)/bin/playground

test: verify test-unit test-e2e

verify:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	hack/verify-codegen.sh

test-unit:
	$(GO) test -count=1 ./pkg/...

# Builds the control plane first (minutes when cold, cached afterwards) so
# that the build does not count against the test timeout. The benchmarks
# run once each, on the same control plane, so that they keep working.
# -v: the reliability tests print what they counted (writers, accepted,
# conflicts, lost).
test-e2e: control-plane
	$(GO) test -count=1 -v -timeout $(E2E_TIMEOUT) -bench . -benchtime 1x ./test/e2e/...

# Each request through vm-apiserver against the same request for the
# backend object, made directly, in the same run (see README).
bench: control-plane
	$(GO) test -count=1 -timeout $(E2E_TIMEOUT) -run '^$$' -bench . ./test/e2e/...

control-plane:
	hack/build-control-plane.sh

codegen:
	hack/update-codegen.sh

crds:
	hack/update-backend-crds.sh

clean:
	rm -rf $(OUTPUT)
