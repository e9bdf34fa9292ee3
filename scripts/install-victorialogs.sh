#!/usr/bin/env bash
# Installs VictoriaLogs (the benchmark's peer log store) into obsplane's
# cache, built from its Go module at a pinned version whose module hash is
# checked. A no-op when the pinned binary is already there. Only the
# benchmarks use it (make bench).
#
#   scripts/install-victorialogs.sh          # prints the binary's path
#
# VICTORIALOGS_VERSION (with VICTORIALOGS_SUM, its module hash) and
# OBSPLANE_CACHE override the defaults.
set -euo pipefail

version="${VICTORIALOGS_VERSION:-v1.52.1}"
sum="${VICTORIALOGS_SUM:-h1:B83xu4usTNPrpsFZFH/Dei3nWIsQizIeSRghFxj4ZJo=}"
module=github.com/VictoriaMetrics/VictoriaLogs
cache="${OBSPLANE_CACHE:-$HOME/.cache/obsplane}"
bindir="$cache/victorialogs/$version"
bin="$bindir/victoria-logs"

if [[ -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$bindir"
# The module's hash (go.sum form), checked before anything is built; the go
# command also checks it against the checksum database.
got=$(cd "$bindir" && GOFLAGS= go mod download -json "$module@$version" | sed -n 's/^\t"Sum": "\(.*\)",$/\1/p')
if [[ "$got" != "$sum" ]]; then
  echo "VictoriaLogs $version: module hash $got, want $sum" >&2
  exit 1
fi
GOBIN="$bindir" GOFLAGS= go install "$module/app/victoria-logs@$version" >&2
"$bin" -version >/dev/null 2>&1 || { echo "VictoriaLogs $version did not install at $bin" >&2; exit 1; }
echo "$bin"
