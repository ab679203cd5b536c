/**
 * The reaper: finds egresses whose recorder is gone (a worker killed with SIGKILL, a node lost) and ends them
 * FAILED with the reason, salvaging what was recorded (shared/worker-lost.ts), so that no egress stays ACTIVE
 * for ever. A recorder proves it is alive by beating (shared/liveness.ts); one that misses its beats for two
 * scans in a row is dead. Two scans, not one: after a Redis restart the beat keys may be gone for a moment
 * while the workers reconnect and beat again.
 */
import { EgressStatus } from '@livekit/protocol';
import type { ServiceContext } from '../shared/context.ts';
import { ERRORS } from '../shared/errors.ts';
import { BEAT_INTERVAL_MS, RecorderLiveness } from '../shared/liveness.ts';
import { RECORD_QUEUES, uploadJobId, type RecordJobData } from '../shared/queues.ts';
import { redisKeys } from '../shared/redis-keys.ts';
import { endLostEgress } from '../shared/worker-lost.ts';

/** How often the reaper scans; with the beat TTL, a dead recorder is found within a minute. */
export const REAP_INTERVAL_MS = 5_000;
/** A recorder missing for this long (and still missing) is dead. */
const MISSING_FOR_MS = 2 * BEAT_INTERVAL_MS + 1000;

export class Reaper {
  private readonly ctx: ServiceContext;
  private readonly liveness: RecorderLiveness;
  /** Egress id → when its recorder was first seen missing. */
  private readonly missingSince = new Map<string, number>();

  constructor(ctx: ServiceContext) {
    this.ctx = ctx;
    this.liveness = new RecorderLiveness(ctx.redis, ctx.config.redis.prefix);
  }

  /** One scan; returns the egresses it ended. */
  async scan(now = Date.now()): Promise<string[]> {
    const reaped: string[] = [];
    const seen = new Set<string>();
    for (const egressId of await this.ctx.events.store.activeIds()) {
      seen.add(egressId);
      if (!(await this.recorderMissing(egressId))) {
        this.missingSince.delete(egressId);
        continue;
      }
      const since = this.missingSince.get(egressId) ?? now;
      this.missingSince.set(egressId, since);
      if (now - since < MISSING_FOR_MS) continue;
      this.missingSince.delete(egressId);
      if (await this.reap(egressId)) reaped.push(egressId);
    }
    for (const id of this.missingSince.keys()) if (!seen.has(id)) this.missingSince.delete(id);
    return reaped;
  }

  /** True when the egress should have a live recorder and has none. */
  private async recorderMissing(egressId: string): Promise<boolean> {
    const info = await this.ctx.events.store.get(egressId);
    if (!info) return false;
    const claimed = (await this.ctx.redis.exists(redisKeys.claim(this.ctx.config.redis.prefix, egressId))) === 1;
    // Still queued (never picked up): the start deadline takes care of it.
    if (!claimed) return false;
    if (await this.liveness.holder(egressId)) return false;
    // Ending without a recorder is normal once its uploads are queued: the finalize job ends it.
    if (info.status === EgressStatus.EGRESS_ENDING) return !(await this.ctx.queues.get('upload').getJob(uploadJobId.finalize(egressId)));
    return info.status === EgressStatus.EGRESS_STARTING || info.status === EgressStatus.EGRESS_ACTIVE;
  }

  private async reap(egressId: string): Promise<boolean> {
    let plan: RecordJobData['plan'] | undefined;
    for (const queue of RECORD_QUEUES) {
      const job = await this.ctx.queues.get(queue).getJob(egressId);
      if (job) plan = job.data.plan;
    }
    const why = 'the worker recording this egress stopped (killed, or its node lost)';
    if (plan) await endLostEgress(this.ctx, plan, why);
    else
      await this.ctx.events.end(egressId, {
        status: EgressStatus.EGRESS_FAILED,
        error: why,
        errorCode: ERRORS.EGR_ERR_WORKER_LOST.egressCode,
        reason: 'Process killed',
      });
    return true;
  }
}
