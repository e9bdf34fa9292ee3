#!/usr/bin/env bash
# Installs Debian's prometheus package (the server binary, for the metrics
# adapter's tests and benchmark, and promtool, which checks and unit-tests
# deploy/prometheus) into obsplane's cache, pinned by version and
# sha256 of the .deb. Nothing is installed system-wide: the .deb is fetched
# with apt-get download and unpacked with dpkg-deb. A no-op when the pinned
# binary is already there.
#
#   scripts/install-prometheus.sh          # prints the server binary's path
#   scripts/install-prometheus.sh promtool # prints promtool's path
#
# OBSPLANE_CACHE overrides the cache directory.
set -euo pipefail

version="2.42.0+ds-5+deb12u1"
sha256="81d59a24fce84f7fbe97a45a4f2914b6a5881b5cd1db2a6a0e129e515e1a5f55"
cache="${OBSPLANE_CACHE:-$HOME/.cache/obsplane}"
dir="$cache/prometheus/$version"
bin="$dir/usr/bin/prometheus"
want="$bin"
if [[ "${1:-}" == promtool ]]; then
  want="$dir/usr/bin/promtool"
fi

if [[ -x "$bin" && -x "$dir/usr/bin/promtool" ]]; then
  echo "$want"
  exit 0
fi

mkdir -p "$dir"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
deb="$work/prometheus.deb"
(cd "$work" && apt-get download "prometheus=$version" >&2) || {
  # The package lists may be missing or stale on a fresh machine.
  apt-get update >&2
  (cd "$work" && apt-get download "prometheus=$version" >&2)
}
mv "$work"/prometheus_*.deb "$deb"
got="$(sha256sum "$deb" | cut -d' ' -f1)"
if [[ "$got" != "$sha256" ]]; then
  echo "prometheus $version: sha256 $got, want $sha256" >&2
  exit 1
fi
dpkg-deb -x "$deb" "$work/x"
mkdir -p "$dir/usr/bin"
cp "$work/x/usr/bin/prometheus" "$work/x/usr/bin/promtool" "$dir/usr/bin/"
"$bin" --version >/dev/null 2>&1 || { echo "prometheus $version did not install at $bin" >&2; exit 1; }
"$dir/usr/bin/promtool" --version >/dev/null 2>&1 || { echo "promtool $version did not install in $dir" >&2; exit 1; }
echo "$want"
