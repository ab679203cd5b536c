/**
 * Failed authentications per client address (shared/client-address.ts), counted in Redis so that every API
 * replica shares the count. The window opens at an address's first failure and lasts a minute; once the address
 * has failed `perMinute` times in it, every request from it is refused until the window closes, a correct
 * credential included: a guesser holding one valid key must not be able to tell a right guess by its answer,
 * and a success never resets the count (it would let such a key launder guesses).
 *
 * A credential is checked first (locally, cheap) and its outcome then settled in one Redis script: throttled
 * already → refused whatever the outcome; else a failure is counted. So the answer to each attempt follows the
 * order in which Redis settles them: a burst of concurrent guesses gets at most `perMinute` answers other than
 * 429, and the right guess among the rest is answered 429 like them. Right credentials take nothing from the
 * count, so any number of concurrent requests of a client with a right key go through.
 */
import { clientKey } from './client-address.ts';
import { EgressError } from './errors.ts';
import type { Redis } from './redis.ts';
import { redisKeys } from './redis-keys.ts';

const WINDOW_SEC = 60;

/**
 * KEYS[1] the counter; ARGV limit, window seconds, outcome ('ok' | 'failed'). Returns {0, ms left} when the
 * address is throttled, else {1, failures in the window (this one included)}.
 */
const SETTLE = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count >= tonumber(ARGV[1]) then return {0, redis.call('PTTL', KEYS[1])} end
if ARGV[3] == 'ok' then return {1, count} end
if count == 0 then redis.call('SET', KEYS[1], 1, 'EX', ARGV[2]) return {1, 1} end
return {1, redis.call('INCR', KEYS[1])}
`;

export class AuthThrottle {
  private readonly redis: Redis;
  private readonly prefix: string;
  readonly limit: number;

  constructor(redis: Redis, prefix: string, perMinute: number) {
    this.redis = redis;
    this.prefix = redisKeys.authFail(prefix);
    this.limit = perMinute;
  }

  private key = (address: string) => `${this.prefix}:${clientKey(address)}`;

  /** Seconds until `address` may try again, or undefined when it is not throttled. */
  async retryAfter(address: string): Promise<number | undefined> {
    const key = this.key(address);
    const [[, count], [, ttlMs]] = (await this.redis.multi().get(key).pttl(key).exec()) as [[Error | null, string | null], [Error | null, number]];
    return Number(count ?? 0) < this.limit ? undefined : secondsLeft(ttlMs);
  }

  /** Throws RATE_LIMITED (resource_exhausted, `retry_after` in its meta) while `address` is throttled. */
  async check(address: string): Promise<void> {
    const retryAfterSec = await this.retryAfter(address);
    if (retryAfterSec !== undefined) throw throttled(retryAfterSec, this.limit);
  }

  /**
   * Settles one checked credential of `address`: throws RATE_LIMITED when the address is throttled by now (right
   * or wrong, the caller must answer 429), else counts a failure. Returns the failures in the window so far.
   */
  async settle(address: string, ok: boolean): Promise<number> {
    const [allowed, value] = (await this.redis.eval(SETTLE, 1, this.key(address), this.limit, WINDOW_SEC, ok ? 'ok' : 'failed')) as [number, number];
    if (allowed === 0) throw throttled(secondsLeft(value), this.limit);
    return value;
  }
}

/** PTTL is -1 only if something removed the expiry; the window then counts as just opened. */
const secondsLeft = (ttlMs: number) => (ttlMs > 0 ? Math.ceil(ttlMs / 1000) : WINDOW_SEC);

export function throttled(retryAfterSec: number, perMinute: number): EgressError {
  return new EgressError(
    'EGR_ERR_RATE_LIMITED',
    `too many failed authentications from this address (at most ${perMinute} a minute): retry in ${retryAfterSec} s`,
    {
      meta: { retry_after: String(retryAfterSec) },
    },
  );
}
