#!/usr/bin/env bash
# Starts a local redis-server for the embedded default (`npm start` with REDIS_URL unset) on a free
# loopback port, with its data in the cache folder (AOF on, so a restart keeps egress records).
# Prints "export REDIS_URL=…; export EMBEDDED_REDIS_PID=…".
set -euo pipefail
cache="${EGRESS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/egress-queue}"
dir="$cache/redis"
mkdir -p "$dir"
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --appendonly yes --maxmemory-policy noeviction \
  --save '' --daemonize no --logfile "$dir/redis.log" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  sleep 0.05
done
redis-cli -p "$port" ping >/dev/null 2>&1 || { echo "egress-queue: redis-server did not start; see $dir/redis.log" >&2; exit 1; }
echo "export REDIS_URL=redis://127.0.0.1:$port; export EMBEDDED_REDIS_PID=$pid"
