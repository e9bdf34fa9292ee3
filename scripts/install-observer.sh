#!/usr/bin/env bash
# Builds OpenChoreo's Observer (cmd/observer of openchoreo/openchoreo), the
# unmodified upstream service, at a pinned commit into obsplane's cache. A
# no-op when the binary of that commit is already there. The Observer
# contract test (internal/server/observer_test.go) runs it against
# obsplane's three adapters.
#
#   scripts/install-observer.sh          # prints the binary's path
#   scripts/install-observer.sh src      # prints the source tree's path
#
# The source comes from a git repository holding the pinned commit:
# OPENCHOREO_GIT (a local clone, bare or not), by default the mirror the
# development machines keep of openchoreo/openchoreo. The commit id pins the
# tree (git checks every object against it); the Go modules the build needs
# come from the Go module proxy, checked against the commit's go.sum.
# Exit status 3 means no repository with the commit was found (nothing was
# built); the test skips then and says why.
#
# OBSERVER_COMMIT and OBSPLANE_CACHE override the defaults.
set -euo pipefail

# The commit the adapters' contracts were read from.
commit="${OBSERVER_COMMIT:-ad3f5030fcfd76172beb3d7c97a459d73368840b}"
cache="${OBSPLANE_CACHE:-$HOME/.cache/obsplane}"
dir="$cache/observer/$commit"
bin="$dir/observer"
src="$dir/src"
repo="${OPENCHOREO_GIT:-/work/.mirror/openchoreo+openchoreo/repo}"

# The Observer takes no flags; started with a configuration it refuses
# (port 0) it loads its configuration, says why it stops and exits without
# binding a port, which proves the binary runs.
check() {
  local out
  out=$(SERVER_PORT=0 "$1" 2>&1 || true)
  grep -q "invalid server port" <<<"$out"
}

if [[ -x "$bin" && -d "$src" ]] && check "$bin"; then
  [[ "${1:-}" == src ]] && echo "$src" || echo "$bin"
  exit 0
fi

if ! git -C "$repo" cat-file -e "$commit^{commit}" 2>/dev/null; then
  echo "install-observer: no git repository with openchoreo/openchoreo commit $commit at $repo (set OPENCHOREO_GIT to a clone)" >&2
  exit 3
fi

mkdir -p "$dir"
tmp=$(mktemp -d "$dir/.src-XXXXXX")
trap 'rm -rf "$tmp" "$bin.tmp"' EXIT
git -C "$repo" archive "$commit" | tar -x -C "$tmp"
rm -rf "$src"
mv "$tmp" "$src"
echo "install-observer: building cmd/observer at $commit (once; a few minutes)" >&2
# The module's own go.mod and go.sum decide every dependency; GOFLAGS from
# the caller must not leak in.
(cd "$src" && GOFLAGS=-buildvcs=false GOWORK=off go build -trimpath -o "$bin.tmp" ./cmd/observer) >&2
check "$bin.tmp" || { echo "install-observer: the built observer does not run" >&2; exit 1; }
mv "$bin.tmp" "$bin"
[[ "${1:-}" == src ]] && echo "$src" || echo "$bin"
