/**
 * Where an egress stands in its takeovers, in Redis (redisKeys.takeover, one hash per egress): its current part
 * (1 until a takeover), when the last owner was found lost, and the fencing token each part was first granted
 * with. The reaper advances the part when the current part's lease lapses (once, whichever API replica gets
 * there first); the worker records that a part began when its lease is granted, and only the first grant of a
 * part may record it: a stalled job that comes back (its worker died, BullMQ re-queued it) finds its part begun
 * already, or superseded by a later one, and does nothing.
 */
import type { Redis } from '../redis.ts';
import { redisKeys, RETENTION_SEC } from '../redis-keys.ts';

export interface TakeoverProgress {
  /** The part being recorded, or waiting for a worker: 1 + the takeovers so far. */
  part: number;
  /** When the previous part's owner was found lost (unix ms); unset for part 1. */
  lostAtMs?: number;
  /** Whether a worker was granted the current part (it began). */
  begun: boolean;
}

/** ARGV: part, token, retention s. 1 if `part` is the current part and had not begun (now it has), else 0. */
const BEGIN = `
local current = tonumber(redis.call('HGET', KEYS[1], 'part') or '1')
if tonumber(ARGV[1]) ~= current then return 0 end
if redis.call('HSETNX', KEYS[1], 'begun:' .. ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1`;

/** ARGV: from part, lost at ms, retention s. 1 if `from` is the current part and began (now the next one is current), else 0. */
const ADVANCE = `
local current = tonumber(redis.call('HGET', KEYS[1], 'part') or '1')
if tonumber(ARGV[1]) ~= current then return 0 end
if redis.call('HEXISTS', KEYS[1], 'begun:' .. ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'part', current + 1, 'lostAtMs', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1`;

export class TakeoverState {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(redis: Redis, prefix: string) {
    this.redis = redis;
    this.prefix = prefix;
  }

  private key = (egressId: string) => redisKeys.takeover(this.prefix, egressId);

  async progress(egressId: string): Promise<TakeoverProgress> {
    const [part, lostAtMs] = await this.redis.hmget(this.key(egressId), 'part', 'lostAtMs');
    const current = Number(part ?? 1);
    const begun = (await this.redis.hexists(this.key(egressId), `begun:${current}`)) === 1;
    return { part: current, ...(lostAtMs ? { lostAtMs: Number(lostAtMs) } : {}), begun };
  }

  /** The worker granted the lease for `part`: true if it may record the part (the first grant of the current part). */
  async begin(egressId: string, part: number, token: number): Promise<boolean> {
    return (await this.redis.eval(BEGIN, 1, this.key(egressId), part, token, RETENTION_SEC)) === 1;
  }

  /** The reaper found `from`'s owner lost: true if this call made `from + 1` the current part (exactly one caller does). */
  async advance(egressId: string, from: number, lostAtMs: number): Promise<boolean> {
    return (await this.redis.eval(ADVANCE, 1, this.key(egressId), from, lostAtMs, RETENTION_SEC)) === 1;
  }
}
