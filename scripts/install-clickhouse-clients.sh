#!/usr/bin/env bash
# Installs the ClickHouse clients the HTTP interface's tests run, pinned,
# into obsplane's cache; a no-op when they are there:
#   - @clickhouse/client (HyperDX's client) from npm, by the committed
#     package-lock.json (versions and sha512 integrity of every package);
#   - clickhouse-connect from PyPI into a virtualenv, by a requirements file
#     with the sha256 of every file (pip --require-hashes).
#
#   scripts/install-clickhouse-clients.sh js       # prints the node_modules dir
#   scripts/install-clickhouse-clients.sh python   # prints the venv's python
#
# OBSPLANE_CACHE overrides the cache directory.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
cache="${OBSPLANE_CACHE:-$HOME/.cache/obsplane}"
data="$here/internal/chhttp/testdata"

case "${1:-}" in
js)
  lock="$data/js/package-lock.json"
  sum="$(sha256sum "$lock" | cut -c1-16)"
  dir="$cache/clickhouse-js/$sum"
  if [[ ! -f "$dir/.installed" ]]; then
    rm -rf "$dir" && mkdir -p "$dir"
    cp "$data/js/package.json" "$lock" "$dir/"
    (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund >&2)
    touch "$dir/.installed"
  fi
  echo "$dir/node_modules"
  ;;
python)
  req="$data/python/requirements.txt"
  sum="$(sha256sum "$req" | cut -c1-16)"
  dir="$cache/clickhouse-connect/$sum"
  if [[ ! -f "$dir/.installed" ]]; then
    rm -rf "$dir"
    python3 -m venv "$dir" >&2
    "$dir/bin/pip" install --quiet --disable-pip-version-check --no-deps --require-hashes -r "$req" >&2
    touch "$dir/.installed"
  fi
  echo "$dir/bin/python"
  ;;
*)
  echo "usage: $0 js|python" >&2
  exit 2
  ;;
esac
