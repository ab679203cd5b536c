#!/usr/bin/env bash
# Docker for docker/compose.yml and test/docker on this machine kind (Debian bookworm, as root), idempotent and
# quick when it is there:
# - Debian's docker.io: dockerd, containerd, runc, docker-init and a docker CLI;
# - the Compose v2 CLI plugin (`docker compose`). Debian bookworm packages only Compose v1 (`docker-compose`,
#   Python), so v2 is built once from the Go module proxy (github.com/docker/compose/v2) into
#   ~/.cache/egress-queue/bin and installed as a plugin, where every docker CLI looks for it.
# Starts nothing: test/docker/engine.ts starts dockerd when none runs, and stops it again.
set -euo pipefail
COMPOSE_VERSION="${EGRESS_COMPOSE_VERSION:-v2.40.3}"
cache="${EGRESS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/egress-queue}/bin"
say() { echo "egress-queue: $*" >&2; }
root() { [ "$(id -u)" = 0 ]; }

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
  root || { say "Docker is missing. Install it with: sudo apt-get install -y docker.io"; exit 1; }
  say "installing Debian's docker.io"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends docker.io >&2 2>/dev/null || { apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends docker.io >&2; }
fi

if ! docker compose version >/dev/null 2>&1; then
  binary="$cache/docker-compose-$COMPOSE_VERSION"
  if [ ! -x "$binary" ]; then
    command -v go >/dev/null 2>&1 || { say "Go is needed to build Docker Compose $COMPOSE_VERSION"; exit 1; }
    say "building Docker Compose $COMPOSE_VERSION into $cache (once)"
    module="github.com/docker/compose/v2"
    # `go install module@version` refuses this module (its go.mod has exclude directives): build in its
    # downloaded source instead (read-only; the output goes elsewhere).
    source=$(go mod download -json "$module@$COMPOSE_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [ -d "$source" ] || { say "could not download $module@$COMPOSE_VERSION"; exit 1; }
    mkdir -p "$cache"
    (cd "$source" && CGO_ENABLED=0 GOFLAGS="-buildvcs=false" nice go build -trimpath \
      -ldflags "-s -w -X $module/internal.Version=$COMPOSE_VERSION" -o "$binary.tmp" ./cmd) >&2
    mv "$binary.tmp" "$binary"
  fi
  plugins="$HOME/.docker/cli-plugins"
  root && plugins=/usr/local/lib/docker/cli-plugins
  mkdir -p "$plugins"
  install -m 0755 "$binary" "$plugins/docker-compose"
  docker compose version >&2
fi
