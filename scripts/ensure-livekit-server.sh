#!/usr/bin/env bash
# A real LiveKit server for tests and local development (`npm run livekit`): livekit-server from the Go module
# proxy at a release tag, built once. Prints its path. LIVEKIT_SERVER_VERSION overrides the pinned tag.
set -euo pipefail
exec bash "$(dirname "$0")/go-tool.sh" livekit-server github.com/livekit/livekit-server/cmd/server "${LIVEKIT_SERVER_VERSION:-v1.13.5}"
