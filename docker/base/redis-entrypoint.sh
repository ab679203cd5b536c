#!/bin/sh
# As the official redis image does: `redis-server [--option …]` without a config file gets --protected-mode no.
set -e
if [ "$1" = redis-server ] && [ "${2%.conf}" = "${2:-}" ]; then
  shift
  set -- redis-server --protected-mode no "$@"
fi
exec "$@"
