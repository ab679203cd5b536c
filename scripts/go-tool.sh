#!/usr/bin/env bash
# Builds a Go program from the Go module proxy once into the cache (~/.cache/egress-queue/bin), and prints its
# path; a no-op when that exact version is already there. Used for the servers the tests and `npm run livekit`
# run: livekit-server, versitygw (S3), fake-gcs-server (GCS); and for helm and kubeconform (ensure-helm-tools.sh).
# Usage: bash scripts/go-tool.sh <name> <package path> <version>
# GO_TOOL_JOBS: packages built at once (default 1).
set -euo pipefail
name="$1" package="$2" version="$3"
bin_dir="${EGRESS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/egress-queue}/bin"
target="$bin_dir/$name-$version"
if [ ! -x "$target" ]; then
  command -v go >/dev/null 2>&1 || { echo "egress-queue: Go is needed to build $name $version" >&2; exit 1; }
  echo "egress-queue: building $name $version into $bin_dir (once)" >&2
  mkdir -p "$bin_dir"
  build_dir=$(mktemp -d "$bin_dir/.$name.XXXXXX")
  trap 'rm -rf "$build_dir"' EXIT
  # One package at a time (-p=1) unless told otherwise: test machines are small and shared.
  GOBIN="$build_dir" GOFLAGS="${GOFLAGS:-} -p=${GO_TOOL_JOBS:-1} -buildvcs=false" CGO_ENABLED=0 nice go install "$package@$version" >&2
  mv "$build_dir/$(basename "$package")" "$target"
fi
echo "$target"
