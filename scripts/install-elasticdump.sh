#!/usr/bin/env bash
# Installs elasticdump (pinned in bench/elasticdump/package-lock.json, every
# package's integrity hash checked by npm ci) into the cache, for the
# backfill benchmark's comparison with the route ClickHouse's migration
# guide documents. Prints the path of the elasticdump executable; a no-op
# when the same lock file is already installed.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SRC="$ROOT/bench/elasticdump"
CACHE="${OBSPLANE_CACHE:-$HOME/.cache/obsplane}"
lock_sum="$(sha256sum "$SRC/package-lock.json" | cut -c1-16)"
DEST="$CACHE/elasticdump/$lock_sum"
BIN="$DEST/node_modules/.bin/elasticdump"

if [ -x "$BIN" ] && [ -f "$DEST/.installed" ]; then
  echo "$BIN"
  exit 0
fi
command -v npm >/dev/null || { echo "install-elasticdump: npm is needed (install Node.js)" >&2; exit 1; }
mkdir -p "$DEST"
cp "$SRC/package.json" "$SRC/package-lock.json" "$DEST/"
echo "install-elasticdump: npm ci in $DEST" >&2
(cd "$DEST" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
touch "$DEST/.installed"
echo "$BIN"
