/** Polling helpers for tests that drive the API like a client does. */
import { EgressStatus, type EgressInfo } from '@livekit/protocol';
import type { EgressClient } from 'livekit-server-sdk';
import { readdir, readFile } from 'node:fs/promises';

export async function waitForStatus(client: EgressClient, egressId: string, statuses: EgressStatus[], timeoutMs = 30_000): Promise<EgressInfo> {
  const deadline = Date.now() + timeoutMs;
  let last: EgressInfo | undefined;
  while (Date.now() < deadline) {
    [last] = await client.listEgress({ egressId });
    if (last && statuses.includes(last.status)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  const seen = last ? `${EgressStatus[last.status]} (${last.error})` : 'no record';
  throw new Error(`egress ${egressId} did not reach ${statuses.map((s) => EgressStatus[s]).join('/')} within ${timeoutMs} ms; last: ${seen}`);
}

/** Pids of processes whose command line mentions `needle` (an egress id, a work dir). */
export async function processesMentioning(needle: string): Promise<{ pid: number; cmdline: string }[]> {
  const found: { pid: number; cmdline: string }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).replace(/\0/g, ' ');
      if (cmdline.includes(needle)) found.push({ pid: Number(entry), cmdline });
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

/** The egress once its first file result has a location (a salvage amends an ended egress with it), polled for up to `timeoutMs`. */
export async function waitForFileLocation(client: EgressClient, egressId: string, timeoutMs = 30_000): Promise<EgressInfo> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [info] = await client.listEgress({ egressId });
    if (info?.fileResults[0]?.location || Date.now() > deadline) {
      if (!info) throw new Error(`egress ${egressId}: no record`);
      return info;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
