/**
 * The group watchdog (group-watchdog.sh): one small bash process per Node process that starts children, in a
 * session of its own, fed the process groups this process starts over a pipe. When this process dies, however
 * (SIGKILL, the OOM killer, a `kill -9` of its whole process group), its end of the pipe closes and the watchdog
 * kills those groups (whatever their leaders forked: Chromium's zygote, renderers, GPU and utility processes)
 * and every process that carries this process's owner tag (owner-tag.ts), then exits. setpriv's parent-death
 * signal (die-with-parent.ts) kills each leader at once; the watchdog gets the rest, also where that signal
 * could not be set. It costs a sleeping bash (about 3 MB) and nothing while this process lives.
 *
 * If the watchdog itself dies while this process lives, a new one is started and told every group still known.
 *
 * A frozen process (SIGSTOP, a stuck event loop) cannot stop its recordings when their leases run out (issue 16):
 * while this process holds recording leases it checks in with the watchdog (checkInLeases: how long its leases
 * stay valid), and a watchdog that hears nothing by then kills the recordings' process groups itself (see the
 * script's header), before Redis can grant those egresses to another worker.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { OWN_OWNER, OWNER_TAG } from './owner-tag.ts';
import { readStat } from './proc-table.ts';

const SCRIPT = fileURLToPath(new URL('./group-watchdog.sh', import.meta.url));
/** A watchdog that keeps dying is restarted at most this often. */
const RESTART_INTERVAL_MS = 1_000;

/** Groups this process started and has not seen gone: leader pid → the leader's start time. */
const groups = new Map<number, string>();
let watchdog: ChildProcess | undefined;
let startedAt = 0;
let restartTimer: NodeJS.Timeout | undefined;
/** The last lease check-in: until when (performance.now()) this process counts its leases valid; unset: none held. */
let leasesValidUntil: number | undefined;

/**
 * This process holds recording leases valid for `validForMs` more (the soonest deadline of its keepers), or
 * none (undefined): the watchdog kills its recording processes if no check-in comes by then.
 */
export function checkInLeases(validForMs: number | undefined): void {
  leasesValidUntil = validForMs === undefined ? undefined : performance.now() + Math.max(1, validForMs);
  watchdog?.stdin?.write(leaseLine());
}

/** The check-in as the watchdog reads it: "L <ms left>", "L 0" when no lease is held. */
function leaseLine(): string {
  if (leasesValidUntil === undefined) return 'L 0\n';
  return `L ${Math.max(1, Math.floor(leasesValidUntil - performance.now()))}\n`;
}

/** Has the watchdog kill the process group `pgid` (led by a child of ours, still running) if this process dies. */
export function watchGroup(pgid: number): void {
  const startTime = readStat(pgid)?.startTime;
  if (startTime === undefined) return;
  groups.set(pgid, startTime);
  // A watchdog started now is told every group known, this one too.
  if (watchdog) watchdog.stdin?.write(`+ ${pgid} ${startTime}\n`);
  else start();
}

/** The group is gone: its id may be someone else's from now on. */
export function forgetGroup(pgid: number): void {
  if (groups.delete(pgid)) watchdog?.stdin?.write(`- ${pgid}\n`);
}

/** The watchdog's pid, if one runs (it carries this process's owner tag, as every child does). */
export function watchdogPid(): number | undefined {
  return watchdog?.pid;
}

function start(): void {
  clearTimeout(restartTimer);
  startedAt = Date.now();
  const child = spawn('bash', [SCRIPT, OWN_OWNER], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
    env: { ...process.env, [OWNER_TAG]: OWN_OWNER },
  });
  // Neither the watchdog nor its pipe keeps this process alive; the pipe closes only when this process ends.
  child.unref();
  (child.stdin as Socket | null)?.unref?.();
  child.stdin?.on('error', () => {});
  child.on('error', () => {});
  // Not started (no bash?): the next group tries again; setpriv's signal still ends the children.
  if (child.pid === undefined) return;
  watchdog = child;
  for (const [pgid, startTime] of groups) child.stdin?.write(`+ ${pgid} ${startTime}\n`);
  if (leasesValidUntil !== undefined) child.stdin?.write(leaseLine());
  child.once('exit', () => {
    watchdog = undefined;
    if (groups.size === 0) return;
    restartTimer = setTimeout(start, Math.max(0, startedAt + RESTART_INTERVAL_MS - Date.now()));
    restartTimer.unref();
  });
}
