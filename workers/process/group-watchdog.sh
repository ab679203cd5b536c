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
set -u
owner=$1
unset EGRESS_OWNER
declare -A groups=()
while read -r op pgid start; do
  case $op in
    +) groups[$pgid]=$start ;;
    -) unset "groups[$pgid]" ;;
  esac
done

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

for round in 1 2 3; do
  killed=0
  kill_groups
  kill_tagged
  # Nothing was left (an orderly exit has killed every child already): done.
  [ "$killed" = 1 ] && [ "$round" != 3 ] || break
  sleep 0.1
done
