#!/usr/bin/env bash
# Installs what the project needs, idempotently and quickly when it is already there:
# - npm dependencies (npm ci, only when package-lock.json changed since the last install);
# - Debian packages redis-server, chromium, xvfb, pulseaudio, ffmpeg (only the missing ones; as root,
#   otherwise it prints the exact command to run).
# Expects a Node >= 22 on PATH (scripts/ensure-node.sh). --npm: the npm dependencies only (the import-cycle
# check and the unit tests need no system package); --test: the tests' packages too.
set -euo pipefail
cd "$(dirname "$0")/.."

lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.egress-queue-lock-hash
installed() { [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$lock_hash" ] && [ -f node_modules/.package-lock.json ]; }
if ! installed; then
  # One install at a time per checkout: two at once (a test run and `npm start`) would delete each other's files.
  exec 9>"${TMPDIR:-/tmp}/egress-queue-npm-$(pwd | sha256sum | cut -c1-12).lock"
  flock 9
  if ! installed; then
    echo "egress-queue: installing npm dependencies (npm ci)" >&2
    rm -f "$stamp"
    # npm ci refuses a lock file that lacks optional packages for other platforms when the registry in use
    # does not serve them (msgpackr-extract's darwin/win32 builds); npm install then installs the same lock.
    PUPPETEER_SKIP_DOWNLOAD=1 npm ci --include=dev --no-audit --no-fund --loglevel=error >&2 2>/dev/null ||
      PUPPETEER_SKIP_DOWNLOAD=1 npm install --include=dev --no-audit --no-fund --loglevel=error >&2
    # The stamp only once everything is there, so an interrupted install is redone next time.
    [ -f node_modules/.package-lock.json ] && echo "$lock_hash" > "$stamp"
  fi
  exec 9>&-
fi

[ "${1:-}" != "--npm" ] || exit 0

# command → Debian package
declare -A needed=([redis-server]=redis-server [chromium]=chromium [Xvfb]=xvfb [pulseaudio]=pulseaudio [pactl]=pulseaudio-utils [ffmpeg]=ffmpeg [ffprobe]=ffmpeg)
missing=()
for cmd in "${!needed[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${needed[$cmd]}")
done
# The tests' RTMP server: nginx with its RTMP module (a module file, not a command).
if [ "${1:-}" = "--test" ]; then
  [ -x /usr/sbin/nginx ] || missing+=(nginx)
  [ -f /usr/lib/nginx/modules/ngx_rtmp_module.so ] || missing+=(libnginx-mod-rtmp)
fi
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  missing+=(fonts-dejavu-core)
  if [ "$(id -u)" = 0 ]; then
    echo "egress-queue: installing Debian packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  else
    echo "egress-queue: missing system packages. Install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi
