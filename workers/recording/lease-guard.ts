/**
 * A record job's hold on its egress (issue 16): the egress's lease, granted to this worker and kept by a
 * LeaseKeeper that self-fences before the lease can lapse, with the fence every write of the recording carries.
 * Only the first grant of the egress's current part records it: a job whose part has begun elsewhere or been
 * superseded (a stalled job back after a takeover), or whose egress another worker holds, does nothing.
 */
import type { Logger } from 'pino';
import { EgressLeases } from '../../shared/lease/egress-lease.ts';
import type { Fence } from '../../shared/lease/fence.ts';
import { LeaseKeeper, type LeaseRenewer } from '../../shared/lease/lease-keeper.ts';
import { leaseTimingOf, validForMs } from '../../shared/takeover/lease-config.ts';
import { TakeoverState } from '../../shared/takeover/takeover-state.ts';
import type { WorkerContext } from '../worker-context.ts';
import { leaseDropped, leaseValidUntil } from './lease-check-ins.ts';

export type Guarding =
  | { kind: 'held'; guard: LeaseGuard }
  /** Another worker holds the egress, or this job's part began elsewhere or was superseded: nothing to do. */
  | { kind: 'elsewhere'; why: string }
  /** The lease is held for a moment by a job that is about to let it go (a stale one): try again shortly. */
  | { kind: 'busy'; holder: string };

export class LeaseGuard {
  readonly keeper: LeaseKeeper;
  readonly fence: Fence;
  private readonly egressId: string;

  private constructor(keeper: LeaseKeeper, fence: Fence) {
    this.keeper = keeper;
    this.fence = fence;
    this.egressId = keeper.lease.egressId;
  }

  /** Takes the lease on `egressId` for `part` (1 unless the job is a takeover's). */
  static async take(ctx: WorkerContext, egressId: string, part: number, log: Logger): Promise<Guarding> {
    const leases = new EgressLeases(ctx.redis, ctx.config.redis.prefix);
    const takeovers = new TakeoverState(ctx.redis, ctx.config.redis.prefix);
    const before = await takeovers.progress(egressId);
    if (before.part !== part || before.begun)
      return { kind: 'elsewhere', why: `part ${part} began elsewhere or was superseded (now part ${before.part})` };
    const timing = leaseTimingOf(ctx.config);
    const grant = await leases.acquire(egressId, ctx.workerId, timing.ttlMs);
    if (!grant.ok) return { kind: 'busy', holder: grant.holder.holderId };
    if (!(await takeovers.begin(egressId, part, grant.lease.token))) {
      await leases.release(grant.lease);
      return { kind: 'elsewhere', why: `part ${part} began elsewhere` };
    }
    const validFor = validForMs(timing);
    // Each confirmed renewal moves the watchdog's deadline (lease-check-ins.ts); the keeper keeps its own.
    const renewer: LeaseRenewer = {
      renew: async (lease) => {
        const sentAt = performance.now();
        const result = await leases.renew(lease);
        if (result.ok) leaseValidUntil(egressId, sentAt + validFor);
        return result;
      },
      release: (lease) => leases.release(lease),
    };
    leaseValidUntil(egressId, grant.sentAt + validFor);
    const keeper = new LeaseKeeper(renewer, grant, {
      renewEveryMs: timing.renewEveryMs,
      safetyMarginMs: timing.safetyMarginMs,
      onLost: (reason) => {
        leaseDropped(egressId);
        log.warn({ token: grant.lease.token, reason }, 'lease lost: this worker stops recording and writing');
      },
      onError: (err) => log.warn({ err: err.message }, 'lease renewal failed; retrying'),
    });
    log.info({ token: grant.lease.token }, 'lease granted');
    return { kind: 'held', guard: new LeaseGuard(keeper, leases.fence(grant.lease)) };
  }

  /** Aborted when the lease is lost (its reason a LeaseLostError). */
  get signal(): AbortSignal {
    return this.keeper.signal;
  }

  /** Lets the lease go: freed in Redis if still held, so that a next owner (if any) need not wait for it to lapse. */
  async release(log: Logger): Promise<void> {
    leaseDropped(this.egressId);
    if (!this.keeper.held) return this.keeper.stop();
    const result = await this.keeper.release().catch((err: Error) => log.warn({ err: err.message }, 'cannot release the lease; it lapses'));
    if (result && !result.ok) log.warn({ refused: result.reason }, 'lease not released: no longer ours');
  }
}
