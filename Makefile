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

.PHONY: run test build deps chdb clients prometheus observer opensearch bench soak fuzz schemathesis rehearsal lint clean uplot chromium

build: bin/obsplane

# The migration console's charting library, embedded by go:embed: pinned,
# checksummed, downloaded into the cache, never committed.
UPLOT_VERSION := 1.6.32
UPLOT_FILES := internal/api/migrationapi/console/vendor/uPlot.iife.min.js internal/api/migrationapi/console/vendor/uPlot.min.css
$(UPLOT_FILES): scripts/install-uplot.sh
	@./scripts/install-uplot.sh
	@touch $(UPLOT_FILES)
uplot: $(UPLOT_FILES)

## chromium: Debian's headless Chromium, which the migration console's browser test drives
chromium:
	@command -v chromium >/dev/null || { echo "installing Debian's chromium" >&2; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

bin/obsplane: $(shell find cmd internal -name '*.go' -o -name '*.sql' -o -name '*.yaml' -o -path '*/migrationapi/console/*' -type f 2>/dev/null) $(UPLOT_FILES) go.mod go.sum
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $@ ./cmd/obsplane

chdb:
	@./scripts/install-chdb.sh >/dev/null

## clients: the ClickHouse clients the HTTP interface's tests run (pinned, cached)
clients:
	@./scripts/install-clickhouse-clients.sh js >/dev/null
	@./scripts/install-clickhouse-clients.sh python >/dev/null

## prometheus: Debian's prometheus and promtool, pinned, into the cache (metrics tests, deploy/prometheus, benchmark)
prometheus:
	@./scripts/install-prometheus.sh >/dev/null

## observer: OpenChoreo's Observer built from the upstream source at a pinned
## commit into the cache (the Observer contract test runs it). Exit 3 from the
## script means no repository with the commit is on this machine: the test
## then skips and says so, and make goes on.
observer:
	@./scripts/install-observer.sh >/dev/null || { rc=$$?; [ $$rc = 3 ] || exit $$rc; }

deps: chdb prometheus

## run: install what is missing, build, serve on the embedded store with data in ./data
run: deps build
	./bin/obsplane serve --data ./data

## test: install what is missing and run every test
## The real OpenSearch is started once, before the test binaries (which find
## it running), and stopped afterwards unless it was already running.
test: deps clients prometheus observer chromium build
	$(GO) vet ./...
	@if [ "$$OBSPLANE_SKIP_OPENSEARCH" = 1 ] || ./scripts/opensearch.sh status >/dev/null; then started=; \
	 else ./scripts/opensearch.sh start >/dev/null || exit 1; started=1; fi; \
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) -p 2 ./...; rc=$$?; \
	if [ -n "$$started" ]; then ./scripts/opensearch.sh stop; fi; exit $$rc

## bench: every benchmark: the embedded store's insert paths, the ClickHouse
## HTTP interface, the OpenSearch backfill, the table layouts side by side
## (variants), then the peer
## run (ingest, storage after merges, every query with its answer checked,
## the under-load case) against a dedicated real OpenSearch node (its own
## port and data: the benchmark recreates its indices) and VictoriaLogs
## (built from its Go module at a pinned version); results in
## bench/results/<date>.json, tables and chart in docs/BENCHMARKS.md.
BENCH_OS_PORT ?= 19400
BENCH_SCALES ?= 1000000:100000,10000000:1000000
bench: deps prometheus build
	OPENSEARCH_PORT=$(BENCH_OS_PORT) OPENSEARCH_HOME_DIR=$(OBSPLANE_CACHE)/opensearch-bench OPENSEARCH_HEAP=2g ./scripts/opensearch.sh start
	vl=$$(./scripts/install-victorialogs.sh) && \
	$(GO) run ./bench/cmd/obsplane-bench -run insert,chhttp,backfill,metrics,variants,peer,sizing -opensearch http://127.0.0.1:$(BENCH_OS_PORT) -victorialogs "$$vl" \
	  -scales $(BENCH_SCALES) -backfill-docs 1000000 -elasticdump "$$(./scripts/install-elasticdump.sh)" -out docs/BENCHMARKS.md; rc=$$?; \
	OPENSEARCH_PORT=$(BENCH_OS_PORT) OPENSEARCH_HOME_DIR=$(OBSPLANE_CACHE)/opensearch-bench ./scripts/opensearch.sh stop; exit $$rc

## fuzz: run every fuzz target for a while (FUZZTIME, default 30s each) and keep
## the corpus: what the fuzzer found interesting is copied from Go's cache into
## the package's testdata/fuzz/<target>/, so `go test` replays it from then on.
fuzz:
	@cache=$$($(GO) env GOCACHE)/fuzz; \
	for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for f in $$($(GO) test -list 'Fuzz.*' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; \
	    nice -n 10 $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $${FUZZTIME:-30s} $$pkg || exit 1; \
	    if [ -d "$$cache/$$pkg/$$f" ]; then \
	      mkdir -p "$$dir/testdata/fuzz/$$f" && cp -n "$$cache/$$pkg/$$f"/* "$$dir/testdata/fuzz/$$f/" 2>/dev/null; \
	      echo "  corpus: $$(ls "$$dir/testdata/fuzz/$$f" | wc -l) inputs in $$dir/testdata/fuzz/$$f"; \
	    fi; \
	  done; \
	done

## rehearsal: the whole migration once on this machine, against live traffic
## (telemetrygen over OTLP, a fluent-logger client over forward): its own
## OpenSearch node with seeded history, `bin/obsplane serve`, and every phase
## through the real `obsplane migrate` commands (shadow write, backfill,
## validate, cutover with a ramp, rollback with syncback, cutover again,
## complete, cleanup with a snapshot). Prints a table per phase; any record
## lost or duplicated fails it. Slow (minutes), so not part of `make test`.
## REHEARSAL_FLAGS passes more flags, e.g. -screenshot docs/console.png.
REHEARSAL_OS_PORT ?= 19240
REHEARSAL_FLAGS ?=
rehearsal: deps build
	@./scripts/install-telemetrygen.sh >/dev/null
	OPENSEARCH_PORT=$(REHEARSAL_OS_PORT) OPENSEARCH_HOME_DIR=$(OBSPLANE_CACHE)/opensearch-rehearsal \
	  $(GO) run ./cmd/obsplane-rehearsal -obsplane bin/obsplane $(REHEARSAL_FLAGS)

## schemathesis: only the OpenAPI document of :8080 against the server (make
## test runs it too; pinned schemathesis in a cached venv; SCHEMATHESIS_TIME
## seconds, default 90)
schemathesis: deps
	$(GO) test -count=1 -run '^TestSchemathesis$$' -v ./internal/server

clean:
	rm -rf bin
