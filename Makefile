# arbor: `make demo` shows it working, `make test` runs every test.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
BIN := bin/arbor
# An iteration count, not a duration: a duration's deadline can land while
# the engine minimizes an input, which go test reports as a failure.
FUZZTIME ?= 200000x

.PHONY: all build deps test vet unit fuzz bench demo clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -ldflags="-s -w" -o $(BIN) ./cmd/arbor
	$(GO) build -ldflags="-s -w" -o bin/arbor-full ./cmd/arbor-full
	$(GO) build -ldflags="-s -w" -o bin/arbord ./cmd/arbord
	$(GO) build -ldflags="-s -w" -o bin/arbor-unxz ./cmd/arbor-unxz

deps:
	@tests/deps.sh

vet:
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || { echo "gofmt needed on the files above" >&2; exit 1; }
	$(GO) vet ./...

unit:
	$(GO) test -count=1 -timeout 12m ./...

# Every decoder of bytes from a repo or the network has a fuzz target; CI
# gives each a short run on top of the checked-in seed corpus.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./store/gvariant
	$(GO) test -run '^$$' -fuzz '^FuzzObjects$$' -fuzztime $(FUZZTIME) ./store/object
	$(GO) test -run '^$$' -fuzz '^FuzzDirTree$$' -fuzztime $(FUZZTIME) ./store/object
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./store/keyfile
	$(GO) test -run '^$$' -fuzz '^FuzzExec$$' -fuzztime $(FUZZTIME) ./deploy/flatpak/exports
	$(GO) test -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME) ./store/gpg
	$(GO) test -run '^$$' -fuzz '^FuzzParseKeyring$$' -fuzztime $(FUZZTIME) ./store/gpg
	$(GO) test -run '^$$' -fuzz '^FuzzTreeIndex$$' -fuzztime $(FUZZTIME) ./store
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./deploy/flatpak/appstream
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./store/delta

test: deps vet unit fuzz

# Measures arbor and ostree on the same tree in one run and prints ratios.
BENCH_TREE ?= /usr/share
BENCH_RUNS ?= 3
bench: deps build
	$(GO) run ./tests/bench -arbor=$(BIN) -tree=$(BENCH_TREE) -runs=$(BENCH_RUNS)

demo: deps build
	@tests/demo.sh $(BIN)

clean:
	rm -rf bin demo-out
