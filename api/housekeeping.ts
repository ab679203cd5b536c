/**
 * Timed chores, run by the API process: a request still waiting for a worker at its start deadline is
 * taken out of its queue and ends ABORTED with a reason that says so (LiveKit answers "no response from
 * servers" at once instead; we queue, up to a point); and the reaper's scan (api/reaper.ts) every
 * REAP_INTERVAL_MS, a job scheduler so that one API replica at a time runs it.
 */
import { EgressStatus } from '@livekit/protocol';
import type { Job, Worker } from 'bullmq';
import type { ServiceContext } from '../shared/context.ts';
import { ERRORS } from '../shared/errors.ts';
import { removeWaitingJob } from '../shared/queued-job.ts';
import {
  HOUSEKEEPING_QUEUE,
  type HousekeepingJob,
  type HousekeepingJobData,
  type HousekeepingJobName,
  type StartDeadlineJobData,
} from '../shared/queues.ts';
import { startPool } from '../shared/pool.ts';
import { Reaper, REAP_INTERVAL_MS } from './reaper.ts';

export async function startHousekeeping(ctx: ServiceContext): Promise<Worker<HousekeepingJobData, string>> {
  const reaper = new Reaper(ctx);
  const chore = async (job: HousekeepingJob): Promise<string> => {
    switch (job.name) {
      case 'start-deadline':
        return enforceStartDeadline(ctx, job.data);
      case 'reap': {
        const reaped = await reaper.scan();
        return reaped.length ? `reaped ${reaped.join(', ')}` : 'nothing to reap';
      }
      default:
        throw new Error(`unknown housekeeping job ${(job as Job).name}`);
    }
  };
  const reap: HousekeepingJobName = 'reap';
  await ctx.queues
    .get(HOUSEKEEPING_QUEUE)
    .upsertJobScheduler('reaper', { every: REAP_INTERVAL_MS }, { name: reap, opts: { removeOnComplete: 10, removeOnFail: 50 } });
  return startPool(ctx.config, HOUSEKEEPING_QUEUE, chore, { concurrency: 4 }, ctx.log);
}

async function enforceStartDeadline(ctx: ServiceContext, { egressId, queue }: StartDeadlineJobData): Promise<string> {
  const info = await ctx.events.store.get(egressId);
  if (!info || info.status !== EgressStatus.EGRESS_STARTING) return 'started';
  // A worker that picks the job up from here on finds it past its deadline itself.
  if (!(await removeWaitingJob(ctx.queues, egressId, [queue]))) return 'picked';
  const error = `no ${queue} worker was free to start this egress within ${ctx.config.start_deadline} s; add ${queue} workers or raise their concurrency`;
  await ctx.events.end(egressId, {
    status: EgressStatus.EGRESS_ABORTED,
    error,
    errorCode: ERRORS.EGR_ERR_START_DEADLINE.egressCode,
    reason: 'Failure',
  });
  ctx.log.warn({ egressId, queue }, 'start deadline passed; egress aborted');
  return 'aborted';
}
