/**
 * The EgressInfo compare-and-set of shared/egress-store.ts, behind a fence: the store's write loop calls this
 * in place of its CAS_SCRIPT eval when the change comes from a recording owner, so that a stale owner's status,
 * results or progress never lands on the record once another worker owns the egress.
 */
import type { Redis } from '../redis.ts';
import { fencedResult, type Fence, type FencedResult } from './fence.ts';
import { FENCED_COMPARE_AND_SET } from './lease-scripts.ts';

/** A refusal, or 'changed': `key` no longer holds `before` (someone else wrote; read again and retry). */
export type FencedCasResult = FencedResult | { ok: false; reason: 'changed' };

/**
 * Sets `key` to `after` (expiring after `ttlSec` if above 0) if `fence` holds the lease and `key` still holds
 * `before`, the bytes read before the change: what egress-store.ts's write() does, plus the fence.
 */
export async function fencedCompareAndSet(
  redis: Redis,
  fence: Fence,
  key: string,
  before: Buffer,
  after: Buffer,
  ttlSec: number,
): Promise<FencedCasResult> {
  const reply = await redis.eval(FENCED_COMPARE_AND_SET, 3, fence.leaseKey, fence.fenceKey, key, fence.token, before, after, Math.round(ttlSec));
  return reply === 'changed' ? { ok: false, reason: 'changed' } : fencedResult(reply);
}
