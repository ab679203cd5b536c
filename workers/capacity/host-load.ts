/**
 * The node's load, read from /proc: CPU busy share between two samples (all cores), available memory, and
 * the CPU each recording uses (every process started for an egress carries EGRESS_ID in its environment:
 * Chromium with all its helpers, ffmpeg, Xvfb). A warm station's processes (workers/web/warm-pool.ts) were
 * started before their egress was known and carry EGRESS_WARM_STATION instead: they count for the egress that
 * took the station, and for nobody while idle. The recorders that run inside the worker process (the SDK and
 * track recorders: rtc-node's decoders, werift) have no process of their own: the worker process's CPU is
 * shared among them (InProcessShares), so with uploads or the API in the same process it errs high.
 */
import { readdir, readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';

const CLOCK_TICKS_PER_SEC = 100;

export interface CpuSample {
  atMs: number;
  busyTicks: number;
  totalTicks: number;
}

export async function sampleCpu(): Promise<CpuSample> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!;
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  return { atMs: Date.now(), busyTicks: total - idle, totalTicks: total };
}

/** Busy share of all cores between two samples, 0…1. */
export function busyShare(before: CpuSample, after: CpuSample): number {
  const total = after.totalTicks - before.totalTicks;
  return total > 0 ? Math.min(1, Math.max(0, (after.busyTicks - before.busyTicks) / total)) : 0;
}

export const cores = (): number => availableParallelism();

export async function availableMemoryBytes(): Promise<number> {
  const match = /MemAvailable:\s+(\d+) kB/.exec(await readFile('/proc/meminfo', 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

/**
 * CPU seconds used so far and resident memory, per egress id, of every process started for one, and of
 * the warm stations `stationOwners` (station id → egress id) says the egresses took.
 */
export async function perEgressUsage(
  egressIds: ReadonlySet<string>,
  stationOwners: ReadonlyMap<string, string> = new Map(),
): Promise<Map<string, { cpuSec: number; rssBytes: number }>> {
  const usage = new Map<string, { cpuSec: number; rssBytes: number }>();
  if (egressIds.size === 0) return usage;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const environ = await readFile(`/proc/${entry}/environ`, 'latin1').catch(() => '');
    const station = /(?:^|\0)EGRESS_WARM_STATION=([^\0]+)/.exec(environ)?.[1];
    const egressId = station !== undefined ? stationOwners.get(station) : /(?:^|\0)EGRESS_ID=([^\0]+)/.exec(environ)?.[1];
    if (egressId === undefined || !egressIds.has(egressId)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // Fields after the command name (which may contain spaces) start at the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuSec = (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / CLOCK_TICKS_PER_SEC;
    const rssBytes = Number(fields[21] ?? 0) * 4096;
    const sum = usage.get(egressId) ?? { cpuSec: 0, rssBytes: 0 };
    usage.set(egressId, { cpuSec: sum.cpuSec + cpuSec, rssBytes: sum.rssBytes + rssBytes });
  }
  return usage;
}

/**
 * The worker process's own CPU, shared among the recordings running inside it: each is credited an equal
 * part of what the process used since the last share, accumulated per egress (CPU seconds, like a process's).
 */
export class InProcessShares {
  private lastCpuSec = processCpuSec();
  private readonly credited = new Map<string, number>();

  /** Credits the CPU the process used since the last call to the egresses recording in it now; forgets the others. */
  share(egressIds: readonly string[], cpuSec = processCpuSec()): ReadonlyMap<string, number> {
    const used = Math.max(0, cpuSec - this.lastCpuSec);
    this.lastCpuSec = cpuSec;
    for (const id of this.credited.keys()) if (!egressIds.includes(id)) this.credited.delete(id);
    for (const id of egressIds) this.credited.set(id, (this.credited.get(id) ?? 0) + used / egressIds.length);
    return this.credited;
  }
}

function processCpuSec(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}
