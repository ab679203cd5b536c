/**
 * Taking a recording job out of its queue while no worker holds it. The caller marks the egress first
 * (stop requested, or deadline passed) so that a worker picking the job up in between sees the mark and
 * does not start a recorder; here we only remove a job that is still waiting.
 */
import type { Queues, RecordQueueName } from './queues.ts';
import { RECORD_QUEUES } from './queues.ts';

const WAITING_STATES = new Set(['waiting', 'delayed', 'prioritized', 'waiting-children']);

/** True if the job was still waiting in one of `queues` and is now removed. */
export async function removeWaitingJob(queues: Queues, jobId: string, names: readonly RecordQueueName[] = RECORD_QUEUES): Promise<boolean> {
  for (const name of names) {
    const job = await queues.get(name).getJob(jobId);
    if (!job) continue;
    if (!WAITING_STATES.has(await job.getState())) return false;
    return (
      (await queues
        .get(name)
        .remove(jobId)
        .catch(() => 0)) === 1
    );
  }
  return false;
}
