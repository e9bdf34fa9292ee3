#!/usr/bin/env bash
# Installs uPlot, the migration console's charting library, at a pinned
# version: `npm pack` fetches the package's tarball from the configured npm
# registry into the cache, its sha256 is checked, and the two files the page
# loads are copied into internal/api/migrationapi/console/vendor/ (ignored
# by git), where go:embed puts them into the binary. A no-op when they are
# already there at this version.
set -euo pipefail

VERSION=1.6.32
SHA256=4b8a8191e425658e3ea8c8c1314b0fc679c861ee3a1af2b20c7b16ba50b5133d
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${OBSPLANE_CACHE:-$HOME/.cache/obsplane}/uplot/$VERSION"
TGZ="$CACHE/uplot-$VERSION.tgz"
DEST="$ROOT/internal/api/migrationapi/console/vendor"
STAMP="$DEST/.version"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$VERSION $SHA256" ] && [ -f "$DEST/uPlot.iife.min.js" ] && [ -f "$DEST/uPlot.min.css" ]; then
  exit 0
fi
if [ ! -f "$TGZ" ] || ! echo "$SHA256  $TGZ" | sha256sum -c --quiet - 2>/dev/null; then
  command -v npm >/dev/null || { echo "install-uplot: npm is needed (install Node.js)" >&2; exit 1; }
  mkdir -p "$CACHE"
  rm -f "$TGZ"
  echo "install-uplot: npm pack uplot@$VERSION" >&2
  (cd "$CACHE" && npm pack "uplot@$VERSION" --silent --ignore-scripts >/dev/null)
fi
if ! echo "$SHA256  $TGZ" | sha256sum -c --quiet -; then
  echo "install-uplot: $TGZ does not have the pinned sha256 $SHA256; removed" >&2
  rm -f "$TGZ"
  exit 1
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
tar -xzf "$TGZ" -C "$tmp" package/dist/uPlot.iife.min.js package/dist/uPlot.min.css package/LICENSE
mkdir -p "$DEST"
cp "$tmp/package/dist/uPlot.iife.min.js" "$tmp/package/dist/uPlot.min.css" "$DEST/"
cp "$tmp/package/LICENSE" "$DEST/uPlot.LICENSE"
echo "$VERSION $SHA256" >"$STAMP"
echo "install-uplot: uPlot $VERSION into $DEST" >&2
