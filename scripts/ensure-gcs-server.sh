#!/usr/bin/env bash
# The GCS emulator the storage tests run against: fake-gcs-server, built once. Prints its path.
# FAKE_GCS_SERVER_VERSION overrides the pinned tag.
set -euo pipefail
exec bash "$(dirname "$0")/go-tool.sh" fake-gcs-server github.com/fsouza/fake-gcs-server "${FAKE_GCS_SERVER_VERSION:-v1.56.1}"
