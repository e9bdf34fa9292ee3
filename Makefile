# obsplane — two commands on a fresh machine: `make run` and `make test`.
# Everything downloaded is pinned, checksummed and cached under
# $(OBSPLANE_CACHE) (default ~/.cache/obsplane); nothing downloaded is committed.

SHELL := /bin/bash
export OBSPLANE_CACHE ?= $(HOME)/.cache/obsplane
CHDB_VERSION := 26.5.3
export CHDB_LIB ?= $(OBSPLANE_CACHE)/chdb/$(CHDB_VERSION)/libchdb.so
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/openchoreo/obsplane/internal/version.Version=$(VERSION)
GO ?= go
# Slow soak/load runs are opt-in (make soak); `make test` stays well under 30 minutes.
TEST_TIMEOUT ?= 25m

.PHONY: run test build deps chdb clients promtool opensearch bench soak fuzz lint clean

build: bin/obsplane

bin/obsplane: $(shell find cmd internal -name '*.go' -o -name '*.sql' -o -name '*.yaml' 2>/dev/null) go.mod go.sum
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $@ ./cmd/obsplane

chdb:
	@./scripts/install-chdb.sh >/dev/null

## clients: the ClickHouse clients the HTTP interface's tests run (pinned, cached)
clients:
	@./scripts/install-clickhouse-clients.sh js >/dev/null
	@./scripts/install-clickhouse-clients.sh python >/dev/null

## promtool: Debian's prometheus package, which checks and unit-tests deploy/prometheus
promtool:
	@command -v promtool >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }

deps: chdb promtool

## run: install what is missing, build, serve on the embedded store with data in ./data
run: deps build
	./bin/obsplane serve --data ./data

## test: install what is missing and run every test
## The real OpenSearch is started once, before the test binaries (which find
## it running), and stopped afterwards unless it was already running.
test: deps clients build
	$(GO) vet ./...
	@if [ "$$OBSPLANE_SKIP_OPENSEARCH" = 1 ] || ./scripts/opensearch.sh status >/dev/null; then started=; \
	 else ./scripts/opensearch.sh start >/dev/null || exit 1; started=1; fi; \
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) -p 2 ./...; rc=$$?; \
	if [ -n "$$started" ]; then ./scripts/opensearch.sh stop; fi; exit $$rc

## bench: every benchmark, against the raw engine and a dedicated real OpenSearch
## node (its own port and data: the benchmark recreates its indices)
BENCH_OS_PORT ?= 19400
bench: deps build
	OPENSEARCH_PORT=$(BENCH_OS_PORT) OPENSEARCH_HOME_DIR=$(OBSPLANE_CACHE)/opensearch-bench OPENSEARCH_HEAP=2g ./scripts/opensearch.sh start
	$(GO) run ./bench/cmd/obsplane-bench -run insert,gateway,query,chhttp,backfill,sizing -opensearch http://127.0.0.1:$(BENCH_OS_PORT) \
	  -scales 1000000:100000,10000000:1000000 -backfill-docs 1000000 -elasticdump "$$(./scripts/install-elasticdump.sh)" -out docs/BENCHMARKS.md; rc=$$?; \
	OPENSEARCH_PORT=$(BENCH_OS_PORT) OPENSEARCH_HOME_DIR=$(OBSPLANE_CACHE)/opensearch-bench ./scripts/opensearch.sh stop; exit $$rc

## fuzz: run every fuzz target for a short while
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list 'Fuzz.*' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $${FUZZTIME:-30s} $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf bin
