/**
 * A record job that failed past what its processor handles (a stall past maxStalledCount, Redis lost mid-job)
 * ends its egress FAILED (workers/end-failed.ts), unless the egress has moved on without it (issue 16): another
 * worker holds its lease, a later part was queued, or its part began, in which case the reaper takes it over
 * when the lease lapses (or ends it, salvaging what was recorded). A stalled job back after a takeover must never
 * end the egress.
 */
import { EgressLeases } from '../../shared/lease/egress-lease.ts';
import type { RecordJobData } from '../../shared/queues.ts';
import { TakeoverState } from '../../shared/takeover/takeover-state.ts';
import { endFailed } from '../end-failed.ts';
import type { WorkerContext } from '../worker-context.ts';

export async function endFailedRecordJob(ctx: WorkerContext, data: RecordJobData | undefined, error: string): Promise<void> {
  if (!data) return;
  const { egressId } = data.plan;
  const { prefix } = ctx.config.redis;
  try {
    const holder = await new EgressLeases(ctx.redis, prefix).holder(egressId);
    if (holder && holder.holderId !== ctx.workerId) return;
    const progress = await new TakeoverState(ctx.redis, prefix).progress(egressId);
    if (progress.part !== (data.takeover?.part ?? 1)) return;
    // Its part began and its lease lapsed: the reaper takes it over, or ends it with what was recorded salvaged.
    if (!holder && progress.begun) return;
  } catch (err) {
    ctx.log.warn({ egressId, err: (err as Error).message }, 'cannot tell whether the egress moved on; ending it');
  }
  await endFailed(ctx, egressId, error);
}
