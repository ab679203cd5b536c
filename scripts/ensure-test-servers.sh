#!/usr/bin/env bash
# Installs the binaries the storage tests run against, once, into a cache folder; fast when present.
#   versitygw (a real S3 gateway, posix back-end) from the Go module proxy.
# Usage: bash scripts/ensure-test-servers.sh   (prints the versitygw path)
# Override with VERSITYGW_BIN=/path/to/versitygw (then nothing is installed).
set -euo pipefail
VERSITYGW_VERSION="${EGRESS_VERSITYGW_VERSION:-v1.8.0}"
cache="${EGRESS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/egress-queue}"
bin="$cache/bin"
target="$bin/versitygw-$VERSITYGW_VERSION"

if [ -n "${VERSITYGW_BIN:-}" ]; then
  echo "$VERSITYGW_BIN"
  exit 0
fi
if [ ! -x "$target" ]; then
  command -v go >/dev/null 2>&1 || { echo "egress-queue: go is needed to build versitygw (or set VERSITYGW_BIN)" >&2; exit 1; }
  echo "egress-queue: building versitygw $VERSITYGW_VERSION into $bin (once)" >&2
  mkdir -p "$bin"
  tmp=$(mktemp -d "$bin/.versitygw.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  # One build job at a time: test machines are small and shared.
  GOBIN="$tmp" GOFLAGS="${GOFLAGS:-} -p=1" CGO_ENABLED=0 nice go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" >&2
  mv "$tmp/versitygw" "$target"
fi
echo "$target"
