/**
 * Fenced ownership of a recording (issue 16 item 1): an egress is recorded by exactly one worker at a time.
 * The worker holds a lease in Redis that lapses by Redis's own PX expiry unless renewed; each grant comes with a
 * fencing token, one more than any earlier grant for that egress, so a worker that lost its lease (partitioned,
 * frozen) can be told apart from the one that owns the egress now, and its late writes refused (fenced-write.ts).
 * The worker side, renewing and stopping in time, is lease-keeper.ts; the timing is lease-timing.ts.
 */
import type { Redis } from '../redis.ts';
import { RETENTION_SEC } from '../redis-keys.ts';
import { fencedResult, fenceOf, type Fence, type FencedResult } from './fence.ts';
import { ACQUIRE, RELEASE, RENEW } from './lease-scripts.ts';

/** One grant of the lease: a plain value, so that it can travel with the work it guards. */
export interface Lease {
  egressId: string;
  /** Who was granted it (a worker id). */
  holderId: string;
  /** The fencing token of this grant: strictly greater than every earlier grant's for this egress. */
  token: number;
  /** How long the lease lives in Redis after its grant or its last renewal. */
  ttlMs: number;
}

/** A lease as Redis holds it now. */
export interface LeaseHolder {
  holderId: string;
  token: number;
  /** Time left before it lapses, on Redis's clock. */
  remainingMs: number;
}

export type AcquireResult =
  /** `sentAt`: performance.now() when the request left, before Redis started the lease's TTL (lease-keeper.ts). */
  { ok: true; lease: Lease; sentAt: number } | { ok: false; reason: 'held'; holder: LeaseHolder };

export class EgressLeases {
  private readonly redis: Redis;
  private readonly prefix: string;

  /** `prefix`: the configured `redis.prefix`. */
  constructor(redis: Redis, prefix: string) {
    this.redis = redis;
    this.prefix = prefix;
  }

  /** The fence writes of this grant must carry (fenced-write.ts). */
  fence(lease: Pick<Lease, 'egressId' | 'token'>): Fence {
    return fenceOf(this.prefix, lease.egressId, lease.token);
  }

  /** Grants the lease to `holderId` if nobody holds it (never granted, released, or lapsed). */
  async acquire(egressId: string, holderId: string, ttlMs: number): Promise<AcquireResult> {
    if (!(Number.isInteger(ttlMs) && ttlMs > 0)) throw new RangeError(`lease ttl must be a positive integer of ms, not ${ttlMs}`);
    const { leaseKey, fenceKey } = this.fence({ egressId, token: 0 });
    const sentAt = performance.now();
    const reply = await this.redis.eval(ACQUIRE, 2, leaseKey, fenceKey, holderId, ttlMs, RETENTION_SEC);
    if (!Array.isArray(reply)) throw new Error(`unexpected reply to a lease acquire: ${String(reply)}`);
    if (reply[0] === 1) return { ok: true, lease: { egressId, holderId, token: Number(reply[1]), ttlMs }, sentAt };
    return { ok: false, reason: 'held', holder: { holderId: String(reply[1]), token: Number(reply[2]), remainingMs: Number(reply[3]) } };
  }

  /** Extends the lease by its TTL, from now on Redis's clock, if `lease` still holds it. */
  async renew(lease: Lease): Promise<FencedResult> {
    const { leaseKey, fenceKey, token } = this.fence(lease);
    return fencedResult(await this.redis.eval(RENEW, 2, leaseKey, fenceKey, token, lease.ttlMs, RETENTION_SEC));
  }

  /** Frees the lease if `lease` still holds it; the next grant gets a greater token all the same. */
  async release(lease: Lease): Promise<FencedResult> {
    const { leaseKey, fenceKey, token } = this.fence(lease);
    return fencedResult(await this.redis.eval(RELEASE, 2, leaseKey, fenceKey, token));
  }

  /** Who holds the lease on `egressId` now, if anyone. */
  async holder(egressId: string): Promise<LeaseHolder | undefined> {
    const { leaseKey } = this.fence({ egressId, token: 0 });
    const replies = await this.redis.multi().hmget(leaseKey, 'holder', 'token').pttl(leaseKey).exec();
    const [fields, remainingMs] = (replies ?? []).map(([err, value]) => {
      if (err) throw err;
      return value;
    });
    if (!Array.isArray(fields) || typeof fields[0] !== 'string' || typeof remainingMs !== 'number' || remainingMs < 0) return undefined;
    return { holderId: fields[0], token: Number(fields[1]), remainingMs };
  }
}
