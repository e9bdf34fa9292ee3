#!/usr/bin/env bash
# Installs libchdb.so (the ClickHouse engine as a shared library) into the cache.
# Pinned version, verified sha256, and a no-op when the library is already there.
# The npm registry package @chdb/lib-linux-x64-gnu carries the library; npm is
# used only as a download client.
set -euo pipefail

CHDB_VERSION="${CHDB_VERSION:-26.5.3}"
# sha256 of the package tarball @chdb/lib-linux-x64-gnu@26.5.3
CHDB_TGZ_SHA256="b874e449710950da3abd7e20376f7bb3387d9e03adcc7082f022be18dfdf316a"
CACHE="${OBSPLANE_CACHE:-$HOME/.cache/obsplane}"
DEST="$CACHE/chdb/$CHDB_VERSION"
LIB="$DEST/libchdb.so"

if [ -s "$LIB" ] && [ -f "$DEST/.verified" ]; then
  echo "$LIB"
  exit 0
fi
command -v npm >/dev/null || { echo "install-chdb: npm is needed to download libchdb (install Node.js)" >&2; exit 1; }

mkdir -p "$DEST"
work="$(mktemp -d "$CACHE/chdb/.dl.XXXXXX")"
trap 'rm -rf "$work"' EXIT
echo "install-chdb: downloading @chdb/lib-linux-x64-gnu@$CHDB_VERSION (~170 MB)" >&2
(cd "$work" && npm pack --silent "@chdb/lib-linux-x64-gnu@$CHDB_VERSION" >/dev/null)
tgz="$(ls "$work"/*.tgz)"
got="$(sha256sum "$tgz" | cut -d' ' -f1)"
if [ "$got" != "$CHDB_TGZ_SHA256" ]; then
  echo "install-chdb: sha256 mismatch for $tgz: got $got, want $CHDB_TGZ_SHA256" >&2
  exit 1
fi
tar -xzf "$tgz" -C "$work" package/libchdb.so
mv "$work/package/libchdb.so" "$LIB.tmp"
mv "$LIB.tmp" "$LIB"
echo "$CHDB_VERSION $CHDB_TGZ_SHA256" > "$DEST/.verified"
echo "$LIB"
