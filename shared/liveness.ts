/**
 * Proof of life of the recorder of each egress: its worker refreshes a short-lived key while it records.
 * When the key is gone (the worker was killed, its node lost, its Redis connection cut for good), the
 * reaper (api/housekeeping.ts) ends the egress and salvages what was recorded: no egress stays ACTIVE for
 * ever (livekit/egress#950). Set from the claim on, so a recorder is never "dead" before its first beat.
 */
import type { Redis } from './redis.ts';
import { redisKeys } from './redis-keys.ts';

/** A recorder beats this often… */
export const BEAT_INTERVAL_MS = 5_000;
/** …and counts as dead this long after its last beat. */
export const BEAT_TTL_SEC = 15;

export class RecorderLiveness {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(redis: Redis, prefix: string) {
    this.redis = redis;
    this.prefix = redisKeys.alive(prefix);
  }

  private key = (egressId: string) => `${this.prefix}:${egressId}`;

  async beat(egressId: string, workerId: string): Promise<void> {
    await this.redis.set(this.key(egressId), workerId, 'EX', BEAT_TTL_SEC);
  }

  /** Beats every BEAT_INTERVAL_MS until the returned stop() is called (which also clears the key). */
  keepAlive(egressId: string, workerId: string, onError: (err: Error) => void): () => Promise<void> {
    const timer = setInterval(() => void this.beat(egressId, workerId).catch(onError), BEAT_INTERVAL_MS);
    return async () => {
      clearInterval(timer);
      await this.redis.del(this.key(egressId)).catch(onError);
    };
  }

  /** The worker that beat last, if its beat is still fresh. */
  async holder(egressId: string): Promise<string | undefined> {
    return (await this.redis.get(this.key(egressId))) ?? undefined;
  }
}
