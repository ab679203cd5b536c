#!/usr/bin/env bash
# The embedded default's Redis (`npm start` with REDIS_URL unset): a local redis-server on a free loopback
# port, with its data in the cache folder (AOF on, so a restart keeps egress records). Sourced by run.sh,
# which starts it before the service and stops it once the service has exited:
#   embedded_redis_start  starts it; exports REDIS_URL, sets EMBEDDED_REDIS_PID and EMBEDDED_REDIS_PORT
#   embedded_redis_stop   SHUTDOWN (the append-only file is written out), else SIGTERM, else SIGKILL
# It runs in a session of its own, so a terminal's Ctrl-C (SIGINT to the foreground process group) never
# reaches it: the service still needs it to finalize its recordings. Should run.sh itself be killed, the
# kernel sends it SIGTERM (a parent-death signal, where util-linux setpriv exists) and it shuts down.

embedded_redis_start() {
  local cache="${EGRESS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/egress-queue}"
  local dir="$cache/redis"
  mkdir -p "$dir"
  EMBEDDED_REDIS_PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  setsid $(dying_with_us TERM) redis-server --port "$EMBEDDED_REDIS_PORT" --bind 127.0.0.1 --dir "$dir" --appendonly yes \
    --maxmemory-policy noeviction --save '' --daemonize no --logfile "$dir/redis.log" >/dev/null 2>&1 &
  EMBEDDED_REDIS_PID=$!
  for _ in $(seq 1 100); do
    redis-cli -p "$EMBEDDED_REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.05
  done
  if ! redis-cli -p "$EMBEDDED_REDIS_PORT" ping >/dev/null 2>&1; then
    embedded_redis_stop
    echo "egress-queue: redis-server did not start; see $dir/redis.log" >&2
    return 1
  fi
  export REDIS_URL="redis://127.0.0.1:$EMBEDDED_REDIS_PORT"
}

embedded_redis_stop() {
  local pid="${EMBEDDED_REDIS_PID:-}"
  [ -n "$pid" ] || return 0
  redis-cli -p "$EMBEDDED_REDIS_PORT" shutdown >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
  # Writing out the append-only file takes a moment; one that will not end is killed after 5 s.
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
}

# The prefix that makes a program get `signal` when this shell dies, however it dies (none without setpriv).
dying_with_us() {
  command -v setpriv >/dev/null 2>&1 && echo "setpriv --pdeathsig $1 --" || true
}
