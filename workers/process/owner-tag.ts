/**
 * The owner tag: every process a Node process of ours starts carries EGRESS_OWNER=<pid>:<start time> of that
 * Node process in its environment (and Chromium's helpers inherit it), and its temporary directories carry the
 * same owner in their names. With the start time a reused pid is told apart: an owner is alive while a process
 * with that pid and that start time runs. What a dead owner left is a leftover (leftovers.ts reaps them).
 */
import { readStat } from './proc-table.ts';

export const OWNER_TAG = 'EGRESS_OWNER';

/** This Node process as an owner. */
export const OWN_OWNER = `${process.pid}:${readStat(process.pid)?.startTime ?? 0}`;

/** The owner value of a running process (a test reads a worker's this way). */
export function ownerOf(pid: number): string | undefined {
  const stat = readStat(pid);
  return stat && `${pid}:${stat.startTime}`;
}

/** Whether the owner still runs. A value that is not an owner counts as alive: what it tags is never touched. */
export function ownerAlive(owner: string): boolean {
  const match = /^(\d+):(\d+)$/.exec(owner);
  if (!match) return true;
  const stat = readStat(Number(match[1]));
  return stat !== undefined && stat.state !== 'Z' && stat.startTime === match[2];
}

/** The start of a temporary directory's name that says it is ours: `<kind>-<pid>-<start time>-`. */
export function ownedDirPrefix(kind: string): string {
  return `${kind}-${OWN_OWNER.replace(':', '-')}-`;
}

/** The owner a temporary directory's name says (ownedDirPrefix), or undefined for a name without one. */
export function dirOwner(kind: string, name: string): string | undefined {
  const match = new RegExp(`^${kind}-(\\d+)-(\\d+)-[^-]+$`).exec(name);
  return match ? `${match[1]}:${match[2]}` : undefined;
}
