/**
 * What a dead worker left on this host, reaped when the next worker starts. A worker's children die with it
 * (processes.ts); this is for what survives even that (its watchdog killed too, a host-wide kill) and for what
 * a killed program cannot remove itself:
 * - processes whose owner tag (EGRESS_OWNER, owner-tag.ts) names a dead owner (its pid gone, or reused: another
 *   start time), found by their environment, never by name, with the process groups they lead (Chromium's helpers
 *   rewrite their environment, not their group). A live owner's processes, and our own ancestors, are never
 *   touched;
 * - the lock files and sockets of dead X servers (stale-displays.ts);
 * - PulseAudio runtime directories and warm-station directories (their names carry their owner; a name without
 *   one, from an older version, is stale once no running process mentions it in its environment or command
 *   line and it is an hour old);
 * - Chromium profiles of recordings (tmp_dir/<egressId>/chromium-profile) whose browser (its SingletonLock: this
 *   host, a pid) is gone.
 * Not the recording working directories themselves: the salvage job (workers/upload/salvage-job.ts) delivers
 * what a dead recorder had written there.
 */
import { hostname, tmpdir } from 'node:os';
import { readdir, readFile, readlink, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { dirOwner, ownerAlive, OWNER_TAG } from './owner-tag.ts';
import { commandOf, processesTagged, readStat, type TaggedProcess } from './proc-table.ts';
import { PULSE_DIR_KIND } from '../web/pulse.ts';
import { reapStaleDisplays } from '../web/stale-displays.ts';
import { STATIONS_DIR_KIND } from '../web/warm-pool.ts';

const KILL_ROUNDS = 5;
const KILL_ROUND_MS = 100;
/** A directory of an older version (no owner in its name) is left alone while younger than this. */
const UNOWNED_DIR_MIN_AGE_MS = 60 * 60_000;

export interface Leftovers {
  /** "pid command" of each process killed. */
  processes: string[];
  displays: number[];
  dirs: string[];
}

/** Reaps what dead owners left on this host (see above); `tmpDir`: the config's tmp_dir. Never throws. */
export async function reapLeftovers(tmpDir: string, log: Logger): Promise<Leftovers> {
  const reaped: Leftovers = { processes: [], displays: [], dirs: [] };
  try {
    reaped.processes = await reapProcesses();
    reaped.displays = await reapStaleDisplays();
    reaped.dirs = [...(await reapOwnedDirs()), ...(await reapProfiles(tmpDir))];
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not reap all the leftovers of dead workers');
  }
  const count = reaped.processes.length + reaped.displays.length + reaped.dirs.length;
  if (count > 0) log.info(reaped, 'reaped the leftovers of dead workers');
  return reaped;
}

/** Kills the processes of dead owners, in rounds (one may be forking as it is killed), until none is left. */
async function reapProcesses(): Promise<string[]> {
  const ours = ancestry();
  const killed = new Map<number, string>();
  for (let round = 0; round < KILL_ROUNDS; round++) {
    const orphans = (await processesTagged(OWNER_TAG)).filter((p) => !ours.pids.has(p.pid) && !ownerAlive(p.value));
    if (orphans.length === 0) break;
    const orphanPids = new Set(orphans.map((p) => p.pid));
    for (const orphan of orphans) {
      if (!killed.has(orphan.pid)) killed.set(orphan.pid, await commandOf(orphan.pid));
      signal(orphan.pid, 'SIGKILL');
      if (leadsOrphanGroup(orphan, orphanPids, ours)) signal(-orphan.stat.pgid, 'SIGKILL');
    }
    await delay(KILL_ROUND_MS);
  }
  return [...killed].map(([pid, command]) => `${pid} ${command}`);
}

/**
 * Whether the orphan's process group is all orphans: it is a session of its own (a child of ours is spawned
 * detached: setsid), not ours, and its leader is gone or an orphan itself. Its other members descend from that
 * leader: Chromium's zygote, renderers and GPU process, whose environment no longer shows the tag.
 */
function leadsOrphanGroup(orphan: TaggedProcess, orphanPids: Set<number>, ours: Ancestry): boolean {
  const { pgid, sid } = orphan.stat;
  if (pgid !== sid || ours.groups.has(pgid)) return false;
  const leader = readStat(pgid);
  return !leader || leader.state === 'Z' || orphanPids.has(pgid);
}

interface Ancestry {
  pids: Set<number>;
  groups: Set<number>;
}

/** This process and its ancestors, and their process groups: whatever their tags say, never reaped. */
function ancestry(): Ancestry {
  const ours: Ancestry = { pids: new Set(), groups: new Set() };
  for (let stat = readStat(process.pid); stat && stat.pid > 1 && !ours.pids.has(stat.pid); stat = readStat(stat.ppid)) {
    ours.pids.add(stat.pid);
    ours.groups.add(stat.pgid);
  }
  return ours;
}

/** PulseAudio runtime and warm-station directories in the temp folder whose owner is dead. */
async function reapOwnedDirs(): Promise<string[]> {
  const base = tmpdir();
  const candidates = (await readdir(base).catch(() => [])).filter(
    (name) => name.startsWith(`${PULSE_DIR_KIND}-`) || name.startsWith(`${STATIONS_DIR_KIND}-`),
  );
  const stale: string[] = [];
  let mentioned: string | undefined;
  for (const name of candidates) {
    const path = join(base, name);
    const owner = dirOwner(PULSE_DIR_KIND, name) ?? dirOwner(STATIONS_DIR_KIND, name);
    if (owner !== undefined) {
      if (!ownerAlive(owner)) stale.push(path);
      continue;
    }
    const modified = await stat(path).then(
      (info) => info.mtimeMs,
      () => Date.now(),
    );
    if (Date.now() - modified < UNOWNED_DIR_MIN_AGE_MS) continue;
    mentioned ??= await everyEnvironmentAndCommandLine();
    if (!mentioned.includes(path)) stale.push(path);
  }
  for (const path of stale) await rm(path, { recursive: true, force: true });
  return stale;
}

/** Chromium profiles under tmp_dir/<egressId>/ whose browser, on this host, is gone. */
async function reapProfiles(tmpDir: string): Promise<string[]> {
  const host = hostname();
  const stale: string[] = [];
  for (const egress of await readdir(tmpDir).catch(() => [])) {
    const profile = join(tmpDir, egress, 'chromium-profile');
    // Chromium's own lock: a symbolic link to "<host>-<pid>".
    const holder = /^(.*)-(\d+)$/.exec(await readlink(join(profile, 'SingletonLock')).catch(() => ''));
    if (!holder || holder[1] !== host) continue;
    const browser = readStat(Number(holder[2]));
    if (browser && browser.state !== 'Z') continue;
    await rm(profile, { recursive: true, force: true });
    stale.push(profile);
  }
  return stale;
}

/** The environments and command lines of every process we can read, as one string to search. */
async function everyEnvironmentAndCommandLine(): Promise<string> {
  const texts: string[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    for (const file of ['environ', 'cmdline']) texts.push(await readFile(`/proc/${entry}/${file}`, 'latin1').catch(() => ''));
  }
  return texts.join('\0');
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // gone already
  }
}
