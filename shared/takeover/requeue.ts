/**
 * The reaper's half of a takeover (issue 16): an egress whose owner was lost goes back on its pool's queue as its
 * next part, a record job `{ plan, takeover }` whose id (partJobId) makes the add happen once across API replicas
 * and across scans; and the plan of an egress, read back from the jobs of its parts.
 */
import type { ServiceContext } from '../context.ts';
import { poolOf, type EgressPlan } from '../egress-plan.ts';
import { RECORD_QUEUES, type RecordJobData } from '../queues.ts';
import { partJobId, type Takeover } from './takeover.ts';

/** Queues `takeover.part` of the egress on its pool's queue; a no-op when that part's job exists already. */
export async function queuePart(ctx: Pick<ServiceContext, 'queues'>, plan: EgressPlan, takeover: Takeover): Promise<void> {
  await ctx.queues.get(poolOf(plan)).add(plan.requestKind, { plan, takeover } satisfies RecordJobData, {
    jobId: partJobId(plan.egressId, takeover.part),
  });
}

/** The plan the egress was queued with: from the job of `part`, or of an earlier part if that one is gone. */
export async function planOf(ctx: Pick<ServiceContext, 'queues'>, egressId: string, part: number): Promise<EgressPlan | undefined> {
  for (let p = part; p >= 1; p--) {
    for (const queue of RECORD_QUEUES) {
      const job = await ctx.queues.get(queue).getJob(partJobId(egressId, p));
      if (job) return job.data.plan;
    }
  }
  return undefined;
}
