/**
 * The processes an owner (a worker's Node process, or this test process) started, found by the owner tag in
 * their environment (workers/process/owner-tag.ts), never by name, and the members of the process groups they
 * lead (Chromium's helpers rewrite their environment, not their group).
 */
import { readdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { OWNER_TAG } from '../../workers/process/owner-tag.ts';
import { commandOf, processesTagged, readStat } from '../../workers/process/proc-table.ts';

export interface OwnedProcess {
  pid: number;
  pgid: number;
  /** argv[0], for messages and for checking what a scenario ran. */
  command: string;
}

/** Live processes tagged with `owner`, but `except` (pids). */
export async function processesOwnedBy(owner: string, except: (number | undefined)[] = []): Promise<OwnedProcess[]> {
  const owned = (await processesTagged(OWNER_TAG)).filter((p) => p.value === owner && !except.includes(p.pid));
  return Promise.all(owned.map(async (p) => ({ pid: p.pid, pgid: p.stat.pgid, command: await commandOf(p.pid) })));
}

/** Live processes in any of the groups. */
export async function processesInGroups(groups: Set<number>): Promise<OwnedProcess[]> {
  const found: OwnedProcess[] = [];
  for (const entry of await readdir('/proc')) {
    const stat = /^\d+$/.test(entry) ? readStat(Number(entry)) : undefined;
    if (stat && stat.state !== 'Z' && groups.has(stat.pgid)) found.push({ pid: stat.pid, pgid: stat.pgid, command: await commandOf(stat.pid) });
  }
  return found;
}

/**
 * Waits until nothing tagged with `owner` and nothing in `groups` runs; resolves with how long that took (ms),
 * rejects after `timeoutMs` with what is left.
 */
export async function untilAllGone(owner: string, groups: Set<number>, timeoutMs: number): Promise<number> {
  const startedAt = Date.now();
  for (;;) {
    const left = [...(await processesOwnedBy(owner)), ...(await processesInGroups(groups))];
    if (left.length === 0) return Date.now() - startedAt;
    if (Date.now() - startedAt > timeoutMs)
      throw new Error(`still running ${timeoutMs} ms on: ${left.map((p) => `${p.pid} ${p.command}`).join(', ')}`);
    await sleep(50);
  }
}
