#!/usr/bin/env bash
# The one entry of the npm scripts: puts a supported Node on PATH, installs what is missing, then runs
# the command. `start` with REDIS_URL unset runs the embedded default (a local redis-server, local disk).
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/ensure-node.sh)"
command="${1:-start}"
shift || true
case "$command" in
  test | bench) bash scripts/ensure-deps.sh --test ;;
  cycles | unit | lint | format) bash scripts/ensure-deps.sh --npm ;;
  *) bash scripts/ensure-deps.sh ;;
esac
# After the install (npm leaves out devDependencies under production): @livekit/rtc-node logs at debug level
# to stdout unless NODE_ENV is production.
export NODE_ENV="${NODE_ENV:-production}"
case "$command" in
  start)
    if [ -z "${REDIS_URL:-}" ] && [ -z "${EGRESS_CONFIG_FILE:-}${EGRESS_CONFIG_BODY:-}" ]; then
      # Signals (README "Signals"): the service and its Redis each run in a session of their own, so a
      # terminal's Ctrl-C (SIGINT to the whole foreground process group) or a `kill -<signal> -<pgid>`
      # reaches them only through here: the service gets each signal once (a hang-up as a SIGINT: nobody is
      # left to watch a drain), and Redis is stopped after the service has exited, so that it can still
      # finalize its recordings. Should this script be killed, the service gets SIGINT from the kernel.
      source scripts/embedded-redis.sh
      embedded_redis_start
      trap embedded_redis_stop EXIT
      export EGRESS_EMBEDDED=1
      app=''
      forward() { [ -z "$app" ] || kill -"$1" "$app" 2>/dev/null || true; }
      trap 'forward INT' INT HUP
      trap 'forward TERM' TERM
      # dying_with_us: embedded-redis.sh.
      setsid $(dying_with_us INT) node main.ts "$@" &
      app=$!
      # wait returns early when a trapped signal arrives; keep waiting until the service has exited.
      while :; do
        wait "$app" && status=0 || status=$?
        kill -0 "$app" 2>/dev/null || break
      done
      exit "$status"
    else
      exec node main.ts "$@"
    fi
    ;;
  api) exec node api/main.ts "$@" ;;
  workers) exec node workers/main.ts "$@" ;;
  test)
    npx tsc -p .
    files=("$@")
    [ ${#files[@]} -gt 0 ] || mapfile -t files < <(find test -name '*.test.ts' | sort)
    exec node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
    ;;
  bench) exec node bench/run.ts "$@" ;;
  livekit)
    # A LiveKit server to try room recording with: dev keys (devkey / secret, as `npm start`'s embedded
    # default), on this machine only. Then: LIVEKIT_URL=ws://127.0.0.1:7880 npm start.
    server=$(bash scripts/ensure-livekit-server.sh)
    echo "egress-queue: LiveKit server on ws://127.0.0.1:7880 (keys devkey / secret)" >&2
    exec "$server" --dev --bind 127.0.0.1 --node-ip 127.0.0.1 "$@"
    ;;
  typecheck) exec npx tsc -p . ;;
  # Circular value imports among the sources (scripts/import-cycles.ts); CI runs it before the tests.
  cycles) exec node scripts/import-cycles.ts "$@" ;;
  # ESLint (eslint.config.js: typescript-eslint, type-aware) and prettier's check (.prettierrc.json); CI runs it first.
  # Both run, whatever the first finds; the status is a failure if either failed.
  lint)
    status=0
    npx eslint "$@" . || status=$?
    npx prettier --check --log-level=warn . || status=$?
    exit "$status"
    ;;
  # Rewrites: prettier's formatting, then ESLint's fixes (type-only imports and the like).
  format)
    npx prettier --write --log-level=warn .
    exec npx eslint --fix .
    ;;
  # The tests that need no system package (no redis-server, Chromium, FFmpeg, LiveKit server): test/unit-tests.txt.
  unit)
    npx tsc -p .
    mapfile -t files < <(grep -v '^\s*\(#\|$\)' test/unit-tests.txt)
    exec node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
    ;;
  *) echo "usage: scripts/run.sh start|api|workers|test|bench|typecheck|cycles|unit|lint|format|livekit" >&2; exit 2 ;;
esac
