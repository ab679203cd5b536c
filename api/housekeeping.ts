/**
 * Timed chores, run by the API process: a request still waiting for a worker at its start deadline is
 * taken out of its queue and ends ABORTED with a reason that says so (LiveKit answers "no response from
 * servers" at once instead; we queue, up to a point).
 */
import { EgressStatus } from '@livekit/protocol';
import type { Job, Worker } from 'bullmq';
import type { ServiceContext } from '../shared/context.ts';
import { removeWaitingJob } from '../shared/queued-job.ts';
import { HOUSEKEEPING_QUEUE, type StartDeadlineJobData } from '../shared/queues.ts';
import { startPool } from '../shared/pool.ts';

export function startHousekeeping(ctx: ServiceContext): Worker<StartDeadlineJobData> {
  return startPool(ctx.config, HOUSEKEEPING_QUEUE, (job: Job<StartDeadlineJobData>) => enforceStartDeadline(ctx, job.data), { concurrency: 4 }, ctx.log);
}

async function enforceStartDeadline(ctx: ServiceContext, { egressId, queue }: StartDeadlineJobData): Promise<string> {
  const info = await ctx.events.store.get(egressId);
  if (!info || info.status !== EgressStatus.EGRESS_STARTING) return 'started';
  // A worker that picks the job up from here on finds it past its deadline itself.
  if (!(await removeWaitingJob(ctx.queues, egressId, [queue]))) return 'picked';
  const error = `no ${queue} worker was free to start this egress within ${ctx.config.start_deadline} s; add ${queue} workers or raise their concurrency`;
  await ctx.events.end(egressId, { status: EgressStatus.EGRESS_ABORTED, error, errorCode: 503, reason: 'Failure' });
  ctx.log.warn({ egressId, queue }, 'start deadline passed; egress aborted');
  return 'aborted';
}
