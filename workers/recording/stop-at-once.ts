/**
 * A recording whose lease was lost must stop writing at once (issue 16): its worker may no longer own the egress,
 * and another may be granted it a safety margin later, streaming to the same URLs. A graceful stop (finalizing
 * the file, flushing the streams) takes seconds; this kills the process groups of every process this worker
 * process started for the egress (tagged EGRESS_ID and our owner tag, processes.ts), with SIGKILL, now. What they
 * wrote stays in the working directory for the part that takes over.
 */
import type { Logger } from 'pino';
import { OWN_OWNER, OWNER_TAG } from '../process/owner-tag.ts';
import { processesTagged, readStat } from '../process/proc-table.ts';

/** SIGKILLs the groups of this process's children recording `egressId`; returns how many processes were found. */
export async function killRecordingProcesses(egressId: string): Promise<number> {
  const ours = new Set((await processesTagged(OWNER_TAG)).filter((p) => p.value === OWN_OWNER).map((p) => p.pid));
  const recording = (await processesTagged('EGRESS_ID')).filter((p) => p.value === egressId && ours.has(p.pid));
  const ownGroup = readStat(process.pid)?.pgid;
  for (const { pid, stat } of recording) {
    if (stat.pgid !== ownGroup) signal(-stat.pgid);
    signal(pid);
  }
  return recording.length;
}

/**
 * Kills the recording of `egressId` at once when `signal` (the lease keeper's) aborts, then calls `stop` so its
 * recorder ends without finalizing anything; returns the clean-up that stops watching.
 */
export function killOnLeaseLoss(signal: AbortSignal | undefined, egressId: string, stop: () => void, log: Logger): () => void {
  const onLost = () => {
    log.warn('lease lost: killing the recorder at once');
    killRecordingProcesses(egressId).then(
      (killed) => log.warn({ killed }, 'recorder killed; its working directory is left for the part that takes over'),
      (err: Error) => log.error({ err: err.message }, 'cannot kill the recorder'),
    );
    stop();
  };
  if (signal?.aborted) onLost();
  else signal?.addEventListener('abort', onLost, { once: true });
  return () => signal?.removeEventListener('abort', onLost);
}

function signal(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Gone already.
  }
}
