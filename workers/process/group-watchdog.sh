#!/usr/bin/env bash
# The group watchdog of one Node process (started by workers/process/group-watchdog.ts, in a session of its own,
# so that a signal to the Node process's group does not reach it): once that process is gone, however it died,
# kills everything it started.
#
# Usage: group-watchdog.sh <owner>   (<owner>: the Node process's EGRESS_OWNER value, <pid>:<start time>)
# stdin, from the Node process: "+ <pgid> <start time>" for each process group it starts (its leader's pid and
# the leader's start time, field 22 of /proc/<pid>/stat), "- <pgid>" for one that is gone. End of input means
# the Node process has died: the kernel closes its end of the pipe whatever ended it.
#
# Then, in up to three rounds a moment apart while there is something to kill (a process may be forking as a
# round lands): SIGKILL to each registered group whose leader is gone or is still the registered process (same
# start time; a reused pid is someone else's, left alone), then SIGKILL to every process whose environment
# carries EGRESS_OWNER=<owner>, wherever it is (what left its group: Chromium's crashpad handlers start sessions
# of their own). The watchdog's own children (grep, sleep) do not carry the tag.
#
# "L <ms>" on stdin: the Node process holds recording leases (issue 16) and checks in; it counts them valid for <ms>
# more (its keeper's deadline: last confirmed renewal + lease_ttl − lease_safety_margin). "L 0": it holds none.
# While it holds leases, the watchdog waits for its next line only until that deadline (read -t, against
# /proc/uptime, which no wall-clock step moves): a Node process that has not checked in by then is frozen
# (SIGSTOP, a stuck event loop) or too slow to stop its recordings itself, and its leases may be granted to
# another worker a safety margin later. The watchdog then kills what it started, as above (every recording of
# the process: they all renew on the same event loop), forgets the lease, and goes on watching.
set -u
owner=$1
unset EGRESS_OWNER
declare -A groups=()
# Until when (centiseconds of /proc/uptime) the Node process counts its leases valid; empty: it holds none.
hold_until=
now=0

uptime_cs() {
  local up rest
  read -r up rest </proc/uptime
  now=$((10#${up/./}))
}

kill_groups() {
  local pgid stat fields
  for pgid in "${!groups[@]}"; do
    if read -r stat 2>/dev/null <"/proc/$pgid/stat"; then
      # After the command name (in parentheses, which may hold anything): field 3 onwards; start time is 22.
      read -r -a fields <<<"${stat##*) }"
      [ "${fields[19]:-}" = "${groups[$pgid]}" ] || continue
    fi
    kill -KILL -- "-$pgid" 2>/dev/null && killed=1
  done
}

kill_tagged() {
  local file pid
  # Each environment as NUL-separated lines, one of which is exactly the tag.
  while IFS= read -r -d '' file; do
    pid=${file#/proc/}
    pid=${pid%/environ}
    [ "$pid" = "$$" ] || { kill -KILL "$pid" 2>/dev/null && killed=1; }
  done < <(grep -l -s -Z -z -x -F "EGRESS_OWNER=$owner" /proc/[0-9]*/environ)
}

kill_all() {
  local round
  for round in 1 2 3; do
    killed=0
    kill_groups
    kill_tagged
    # Nothing was left (an orderly exit has killed every child already): done.
    [ "$killed" = 1 ] && [ "$round" != 3 ] || break
    sleep 0.1
  done
}

while :; do
  if [ -n "$hold_until" ]; then
    uptime_cs
    left=$((hold_until - now))
    if [ "$left" -le 0 ]; then
      hold_until=
      echo "group-watchdog: owner $owner held recording leases and did not check in: killing its processes" >&2
      kill_all
      continue
    fi
    frac=$((left % 100))
    [ "$frac" -ge 10 ] || frac=0$frac
    read -r -t "$((left / 100)).$frac" op pgid start
    rc=$?
    # Timed out: the deadline is checked again above. End of input: the Node process died.
    [ "$rc" -gt 128 ] && continue
    [ "$rc" -eq 0 ] || break
  else
    read -r op pgid start || break
  fi
  case $op in
    +) groups[$pgid]=$start ;;
    -) unset "groups[$pgid]" ;;
    L)
      if [ "${pgid:-0}" -gt 0 ]; then
        uptime_cs
        hold_until=$((now + pgid / 10))
      else
        hold_until=
      fi
      ;;
  esac
done

kill_all
