/**
 * The end of an egress whose recorder died (killed, node lost): FAILED at once with the reason, and a
 * salvage job on the upload queue that delivers what the recorder had written to its working directory
 * (the file is recorded crash-safe: fragmented MP4, Ogg, MP3) and amends the file result with its location.
 * Called by the reaper (a lapsed lease with takeovers off, or a takeover no worker began within start_deadline)
 * and by a worker that picks a takeover's part too late; both may race, the first wins (the end is idempotent
 * and the salvage job id is the egress's).
 */
import { EgressStatus } from '@livekit/protocol';
import { jobBackoff } from './backoff.ts';
import type { ServiceContext } from './context.ts';
import { endWithError } from './egress-events.ts';
import type { EgressPlan } from './egress-plan.ts';
import { EgressError } from './errors.ts';
import { uploadJobId, type SalvageJobData } from './queues.ts';

/** Marks the error of an egress ended by endLostEgress (the salvage job only amends those). */
export const WORKER_LOST_MARK = 'what was recorded until then is delivered';

export async function endLostEgress(ctx: Pick<ServiceContext, 'events' | 'queues' | 'log'>, plan: EgressPlan, why: string): Promise<void> {
  const { egressId } = plan;
  const lost = new EgressError('EGR_ERR_WORKER_LOST', `${why}; ${WORKER_LOST_MARK}`);
  await ctx.events.end(egressId, endWithError(EgressStatus.EGRESS_FAILED, lost, 'Process killed'));
  ctx.log.warn({ egressId, why }, 'recorder lost: egress failed, salvaging its recording');
  if (!plan.file) return;
  await ctx.queues.get('upload').add('salvage', { egressId, plan } satisfies SalvageJobData, {
    jobId: uploadJobId.salvage(egressId),
    attempts: 5,
    backoff: jobBackoff(2000),
  });
}
