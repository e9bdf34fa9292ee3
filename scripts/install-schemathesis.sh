#!/usr/bin/env bash
# Installs schemathesis (property-based testing of an OpenAPI document
# against the running server) into a virtualenv in obsplane's cache, every
# package pinned by version and sha256 (scripts/schemathesis.lock). A no-op
# when that exact lock is already installed. Prints the path of its `st`.
#
#   scripts/install-schemathesis.sh
#
# Needs python3 with venv (3.11: the lock's wheels are CPython 3.11 on
# Linux x86_64). OBSPLANE_CACHE overrides the cache directory.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
lock="$here/schemathesis.lock"
version="4.32.5"
cache="${OBSPLANE_CACHE:-$HOME/.cache/obsplane}"
venv="$cache/schemathesis/$version"
want="$(sha256sum "$lock" | cut -d' ' -f1)"

if [[ -x "$venv/bin/st" && "$(cat "$venv/.lock-sha256" 2>/dev/null)" == "$want" ]]; then
  echo "$venv/bin/st"
  exit 0
fi
command -v python3 >/dev/null || { echo "install-schemathesis: python3 is needed" >&2; exit 1; }
py="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
[[ "$py" == "3.11" ]] || echo "install-schemathesis: python3 is $py; the lock pins CPython 3.11 wheels, so pip may refuse them" >&2

rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
python3 -m venv "$venv" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps --require-hashes --only-binary=:all: -r "$lock" >&2
"$venv/bin/st" --version >/dev/null
echo "$want" > "$venv/.lock-sha256"
echo "$venv/bin/st"
