#!/usr/bin/env bash
# Installs telemetrygen (the OTLP load generator from the collector contrib
# repository) into obsplane's cache, pinned. A no-op when the pinned binary
# is already there. The gateway's end-to-end tests and the benchmarks use it.
#
#   scripts/install-telemetrygen.sh          # prints the binary's path
#
# TELEMETRYGEN_VERSION and OBSPLANE_CACHE override the defaults.
set -euo pipefail

version="${TELEMETRYGEN_VERSION:-v0.161.0}"
cache="${OBSPLANE_CACHE:-$HOME/.cache/obsplane}"
bindir="$cache/telemetrygen/$version"
bin="$bindir/telemetrygen"

if [[ -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$bindir"
# go install with an explicit version builds the module from its own
# go.mod, independent of obsplane's; GOFLAGS from the caller must not leak in.
GOBIN="$bindir" GOFLAGS= go install "github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@$version" >&2
"$bin" --help >/dev/null 2>&1 || { echo "telemetrygen $version did not install at $bin" >&2; exit 1; }
echo "$bin"
