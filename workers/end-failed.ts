/**
 * The last word on an egress whose job failed past what its processor handles (Redis lost mid-job, a stall
 * past maxStalledCount, a finalize that kept failing): FAILED, so no egress is left STARTING, ACTIVE or ENDING.
 */
import { EgressStatus } from '@livekit/protocol';
import type { ServiceContext } from '../shared/context.ts';
import { ERRORS } from '../shared/errors.ts';

export async function endFailed(ctx: Pick<ServiceContext, 'events' | 'log'>, egressId: string | undefined, error: string): Promise<void> {
  if (!egressId) return;
  await ctx.events
    .end(egressId, { status: EgressStatus.EGRESS_FAILED, error, errorCode: ERRORS.EGR_ERR_INTERNAL.egressCode, reason: 'Failure' })
    .catch((err: Error) => ctx.log.error({ egressId, err: err.message }, 'cannot end the egress'));
}
