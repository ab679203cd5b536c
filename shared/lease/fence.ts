/**
 * A fence: what a write must carry to be applied only while its writer still owns the egress (issue 16). It is
 * the lease's Redis keys and the fencing token of one grant, a plain value that can travel with a job, so an
 * owner's results, uploads and status writes can be checked against the lease in the same Lua call.
 */
import { redisKeys } from '../redis-keys.ts';

/**
 * Why a token was refused. 'stale-token': the egress has been granted to a later token since (another worker
 * owns it, or did). 'lapsed': this token's lease expired or was released, and nobody has been granted it since.
 */
export type FenceRefusal = 'stale-token' | 'lapsed';

export interface Fence {
  /** The lease key (redisKeys.lease). */
  leaseKey: string;
  /** The fencing-token counter key (redisKeys.leaseFence). */
  fenceKey: string;
  token: number;
}

/** Outcome of a fenced call: done, or refused with the reason. */
export type FencedResult = { ok: true } | { ok: false; reason: FenceRefusal };

/** The fence of `token`'s grant of the lease on `egressId`, under the configured `redis.prefix`. */
export function fenceOf(prefix: string, egressId: string, token: number): Fence {
  return { leaseKey: redisKeys.lease(prefix, egressId), fenceKey: redisKeys.leaseFence(prefix, egressId), token };
}

/** The reply of a script ending in 'ok' or a refusal (lease-scripts.ts), as a FencedResult. */
export function fencedResult(reply: unknown): FencedResult {
  if (reply === 'ok') return { ok: true };
  if (reply === 'stale-token' || reply === 'lapsed') return { ok: false, reason: reply };
  throw new Error(`unexpected reply from a lease script: ${String(reply)}`);
}
