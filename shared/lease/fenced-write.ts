/**
 * Writes that only the current owner of an egress can make: each checks its fence against the lease in the
 * same Lua call as the write, so a worker that lost the egress (partitioned, frozen, or simply late) has its
 * results, upload records and status refused instead of overwriting those of the worker that took over.
 */
import type { Redis } from '../redis.ts';
import { fencedResult, type Fence, type FencedResult } from './fence.ts';
import { FENCED_HSET, FENCED_RPUSH, FENCED_SET } from './lease-scripts.ts';

/** SET `key` to `value` (expiring after `ttlSec` if given, else without expiry) if `fence` holds the lease. */
export async function fencedSet(redis: Redis, fence: Fence, key: string, value: string | Buffer, ttlSec = 0): Promise<FencedResult> {
  return fencedResult(await redis.eval(FENCED_SET, 3, fence.leaseKey, fence.fenceKey, key, fence.token, value, Math.round(ttlSec)));
}

/** HSET the `fields` of the hash `key` (then its expiry, if `ttlSec`) if `fence` holds the lease. */
export async function fencedHset(
  redis: Redis,
  fence: Fence,
  key: string,
  fields: Record<string, string | Buffer>,
  ttlSec = 0,
): Promise<FencedResult> {
  const pairs = Object.entries(fields).flat();
  if (pairs.length === 0) throw new RangeError('fencedHset needs at least one field');
  return fencedResult(await redis.eval(FENCED_HSET, 3, fence.leaseKey, fence.fenceKey, key, fence.token, Math.round(ttlSec), ...pairs));
}

/** RPUSH `value` onto the list `key` (then its expiry, if `ttlSec`) if `fence` holds the lease; ok with the list's new length. */
export async function fencedRpush(
  redis: Redis,
  fence: Fence,
  key: string,
  value: string,
  ttlSec = 0,
): Promise<{ ok: true; length: number } | Exclude<FencedResult, { ok: true }>> {
  const reply = await redis.eval(FENCED_RPUSH, 3, fence.leaseKey, fence.fenceKey, key, fence.token, value, Math.round(ttlSec));
  if (typeof reply === 'number') return { ok: true, length: reply };
  const refused = fencedResult(reply);
  if (refused.ok) throw new Error('a fenced RPUSH answered ok without a length');
  return refused;
}

/** The error a fenced log write throws when refused: this worker no longer owns the egress. */
export class FenceRefusedError extends Error {
  constructor(what: string, reason: Exclude<FencedResult, { ok: true }>['reason']) {
    super(`${what} refused: ${reason === 'stale-token' ? 'another worker owns the egress now' : 'the lease lapsed'}`);
    this.name = 'FenceRefusedError';
  }
}
