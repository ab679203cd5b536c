#!/usr/bin/env bash
# Installs fake-gcs-server (the GCS emulator the storage tests run against) from the Go module proxy into
# ~/.cache/egress-queue/bin, idempotently: a no-op when that exact version is already there. Prints the
# binary's path on stdout. Needs Go (>= 1.23) on PATH; FAKE_GCS_SERVER_VERSION overrides the pinned tag.
set -euo pipefail
version="${FAKE_GCS_SERVER_VERSION:-v1.56.1}"
bin_dir="${EGRESS_QUEUE_BIN_DIR:-$HOME/.cache/egress-queue/bin}"
target="$bin_dir/fake-gcs-server-$version"
if [ ! -x "$target" ]; then
  command -v go >/dev/null 2>&1 || { echo "egress-queue: Go is needed to install fake-gcs-server ($version)" >&2; exit 1; }
  mkdir -p "$bin_dir"
  build_dir=$(mktemp -d)
  trap 'rm -rf "$build_dir"' EXIT
  echo "egress-queue: installing fake-gcs-server $version (go install)" >&2
  GOBIN="$build_dir" GOFLAGS=-buildvcs=false go install "github.com/fsouza/fake-gcs-server@$version" >&2
  mv "$build_dir/fake-gcs-server" "$target"
  ln -sfn "fake-gcs-server-$version" "$bin_dir/fake-gcs-server"
fi
echo "$target"
