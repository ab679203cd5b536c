/**
 * The processes a recording started, found by the EGRESS_ID its supervisor puts in each one's environment,
 * and a node lost: all of them killed at once with SIGKILL (tests of crash recovery and takeovers).
 */
import { readdir, readFile } from 'node:fs/promises';

/** Pids of the processes started for `egressId`, this test process left out. */
export async function processesOfEgress(egressId: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const environ = await readFile(`/proc/${entry}/environ`, 'latin1').catch(() => '');
    if (environ.split('\0').includes(`EGRESS_ID=${egressId}`)) pids.push(Number(entry));
  }
  return pids;
}

/** SIGKILL to each pid that still runs. */
export function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}
