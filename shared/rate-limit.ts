/**
 * Per-key request limits, counted in Redis so that every API replica shares them: a fixed one-minute window
 * per key (INCR + EXPIRE), cheap and good enough to stop a runaway client from queueing thousands of egresses.
 */
import { EgressError } from './errors.ts';
import type { Redis } from './redis.ts';
import { redisKeys } from './redis-keys.ts';

export class RateLimiter {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(redis: Redis, prefix: string) {
    this.redis = redis;
    this.prefix = redisKeys.rateLimit(prefix);
  }

  /** Counts one request of `key` against `perMinute` (0 = no limit); throws RATE_LIMITED beyond it. */
  async take(what: string, key: string, perMinute: number): Promise<void> {
    if (perMinute <= 0) return;
    const window = Math.floor(Date.now() / 60_000);
    const counter = `${this.prefix}:${what}:${key}:${window}`;
    const [[, count]] = (await this.redis.multi().incr(counter).expire(counter, 120).exec()) as [[Error | null, number], unknown];
    if (count > perMinute) {
      const retryAfterSec = 60 - Math.floor((Date.now() % 60_000) / 1000);
      throw new EgressError(
        'EGR_ERR_RATE_LIMITED',
        `too many ${what} requests for API key ${key}: at most ${perMinute} a minute; retry in ${retryAfterSec} s`,
        {
          meta: { retry_after: String(retryAfterSec) },
        },
      );
    }
  }
}
