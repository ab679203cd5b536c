/**
 * The reaper: every REAP_INTERVAL_MS it finds the egresses whose recorder is gone (a worker killed, its node
 * lost, cut off from Redis, frozen) and acts on them, so that no egress stays ACTIVE for ever. A recorder owns
 * its egress through a lease in Redis (shared/lease/) that lapses by Redis's own expiry unless its worker renews
 * it: an egress whose lease was granted (its fencing counter exists) but has no holder lost its recorder. Cheap
 * per egress: one pipelined round trip for all of them; only a lapsed one is read further.
 *
 * A lapsed egress that is ACTIVE, or STARTING once its part began, is taken over (shared/takeover/): its next
 * part goes back on its pool's queue and stays ACTIVE; a part no worker begins within `start_deadline` ends it
 * FAILED with what was recorded salvaged (shared/worker-lost.ts), which is also what happens at once with
 * `takeover.enabled: false`. ENDING with no finalize job: taken over the same way when a StopEgress made it
 * ENDING (the part stops at its first frame, workers/recording/held-stop.ts), else FAILED and salvaged.
 */
import { EgressStatus } from '@livekit/protocol';
import type { ServiceContext } from '../shared/context.ts';
import type { EgressPlan } from '../shared/egress-plan.ts';
import { isTerminal } from '../shared/egress-store.ts';
import { ERRORS } from '../shared/errors.ts';
import { removeWaitingJob } from '../shared/queued-job.ts';
import { uploadJobId } from '../shared/queues.ts';
import { redisKeys } from '../shared/redis-keys.ts';
import { planOf, queuePart } from '../shared/takeover/requeue.ts';
import { partJobId } from '../shared/takeover/takeover.ts';
import { TakeoverState, type TakeoverProgress } from '../shared/takeover/takeover-state.ts';
import { poolOf } from '../shared/egress-plan.ts';
import { endLostEgress } from '../shared/worker-lost.ts';

/** How often the reaper scans: a lapsed lease is acted on within this. */
export const REAP_INTERVAL_MS = 1_000;

const LOST = 'the worker recording this egress stopped (killed, or its node lost)';

export class Reaper {
  private readonly ctx: ServiceContext;
  private readonly takeovers: TakeoverState;

  constructor(ctx: ServiceContext) {
    this.ctx = ctx;
    this.takeovers = new TakeoverState(ctx.redis, ctx.config.redis.prefix);
  }

  /** One scan; returns what it did, one entry per egress it acted on ("<id>: <action>"). */
  async scan(now = Date.now()): Promise<string[]> {
    const acted: string[] = [];
    for (const egressId of await this.lapsedIds()) {
      const action = await this.onLapsed(egressId, now);
      if (action) acted.push(`${egressId}: ${action}`);
    }
    return acted;
  }

  /** Egresses not ended whose lease was granted once and is held by nobody now. */
  private async lapsedIds(): Promise<string[]> {
    const ids = await this.ctx.events.store.activeIds();
    if (ids.length === 0) return [];
    const { prefix } = this.ctx.config.redis;
    const multi = this.ctx.redis.multi();
    for (const id of ids) multi.exists(redisKeys.lease(prefix, id)).exists(redisKeys.leaseFence(prefix, id));
    const replies = (await multi.exec()) ?? [];
    return ids.filter((_, i) => replies[2 * i]?.[1] === 0 && replies[2 * i + 1]?.[1] === 1);
  }

  private async onLapsed(egressId: string, now: number): Promise<string | undefined> {
    const info = await this.ctx.events.store.get(egressId);
    if (!info || isTerminal(info.status)) return undefined;
    // Ending without a recorder is normal once its uploads are queued: the finalize job ends it.
    const ending = info.status === EgressStatus.EGRESS_ENDING;
    if (ending && (await this.ctx.queues.get('upload').getJob(uploadJobId.finalize(egressId)))) return undefined;
    const progress = await this.takeovers.progress(egressId);
    const plan = await planOf(this.ctx, egressId, progress.part);
    // ENDING by a StopEgress is taken over like ACTIVE: the part that takes over stops at its first frame and the
    // egress ends as a stop ends it. ENDING for any other reason (a limit, the source gone): its end stands.
    if (ending && !(this.ctx.config.takeover.enabled && plan && (await this.ctx.control.stopRequested(egressId)))) {
      await this.endLost(egressId, plan, LOST);
      return 'lost while ending: failed, salvaged';
    }
    // Part 1 granted a moment ago and not yet marked begun: nothing lost.
    if (!progress.begun && progress.part === 1) return undefined;
    if (!progress.begun) return this.waitingForTakeover(egressId, plan, progress, now);
    if (!this.ctx.config.takeover.enabled || !plan) {
      await this.endLost(egressId, plan, LOST);
      return 'lost: failed, salvaged';
    }
    // Once, whichever scan or API replica gets here first.
    if (!(await this.takeovers.advance(egressId, progress.part, now))) return undefined;
    const part = progress.part + 1;
    await queuePart(this.ctx, plan, { part, lostAtMs: now });
    this.ctx.log.warn({ egressId, part, lostPart: progress.part, queue: poolOf(plan) }, 'recorder lost: egress queued for a takeover');
    return `queued part ${part} for a takeover`;
  }

  /** A takeover's part no worker has begun yet: queued (again, if the add was lost), or past its start deadline. */
  private async waitingForTakeover(
    egressId: string,
    plan: EgressPlan | undefined,
    progress: TakeoverProgress,
    now: number,
  ): Promise<string | undefined> {
    const lostAtMs = progress.lostAtMs ?? now;
    const { start_deadline } = this.ctx.config;
    if (plan && now - lostAtMs <= start_deadline * 1000) {
      await queuePart(this.ctx, plan, { part: progress.part, lostAtMs });
      return undefined;
    }
    if (plan && !(await removeWaitingJob(this.ctx.queues, partJobId(egressId, progress.part), [poolOf(plan)]))) {
      // Picked up just now: the worker finds it past its deadline itself, or has begun it.
      return undefined;
    }
    const why = `${LOST}, and no worker took it over within ${start_deadline} s`;
    this.ctx.log.warn({ egressId, part: progress.part }, 'takeover not begun within start_deadline: egress failed, salvaging');
    await this.endLost(egressId, plan, why);
    return `part ${progress.part} not begun in time: failed, salvaged`;
  }

  private async endLost(egressId: string, plan: EgressPlan | undefined, why: string): Promise<void> {
    if (plan) await endLostEgress(this.ctx, plan, why);
    else
      await this.ctx.events.end(egressId, {
        status: EgressStatus.EGRESS_FAILED,
        error: why,
        errorCode: ERRORS.EGR_ERR_WORKER_LOST.egressCode,
        reason: 'Process killed',
      });
  }
}
