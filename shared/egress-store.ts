/**
 * EgressInfo records in Redis: the source of truth for ListEgress and for every status change.
 * A record is the EgressInfo protobuf (binary). Updates are compare-and-set, so an API process and a
 * worker changing the same egress never overwrite each other, and a terminal status is final.
 * Ended records expire after `egress_ttl`; index entries pointing at expired records are dropped on read.
 * A recording worker writes through a fenced view (withFence): its updates land only while it holds the
 * egress's lease (issue 16), so a worker that lost the egress to a takeover cannot overwrite the new owner's.
 */
import { EgressInfo, EgressStatus } from '@livekit/protocol';
import type { Fence, FenceRefusal } from './lease/fence.ts';
import { fencedCompareAndSet } from './lease/fenced-compare-and-set.ts';
import type { Redis } from './redis.ts';
import { redisKeys } from './redis-keys.ts';

export const TERMINAL_STATUSES: ReadonlySet<EgressStatus> = new Set([
  EgressStatus.EGRESS_COMPLETE,
  EgressStatus.EGRESS_FAILED,
  EgressStatus.EGRESS_ABORTED,
  EgressStatus.EGRESS_LIMIT_REACHED,
]);

export const isTerminal = (status: EgressStatus): boolean => TERMINAL_STATUSES.has(status);
export const isActive = (status: EgressStatus): boolean => !isTerminal(status);

/** Sets `key` to ARGV[2] only if it still holds ARGV[1] (the bytes read before the change). */
const CAS_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current ~= ARGV[1] then return 0 end
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
return 1`;

export interface ListFilter {
  egressId?: string;
  roomName?: string;
  active?: boolean;
}

/** What update() did: the record as stored afterwards, whether this call changed it, and why a fence refused it. */
export interface StoreUpdate {
  info: EgressInfo;
  changed: boolean;
  /** Set when the store's fence refused the write: its writer no longer owns the egress. */
  refused?: FenceRefusal;
}

export class EgressStore {
  private readonly redis: Redis;
  private readonly options: { prefix: string; ttlSeconds: number };
  private readonly prefix: string;
  private readonly ttlSeconds: number;
  /** Set on a view made by withFence(): update() writes only while the fence holds the lease. */
  readonly fence: Fence | undefined;

  constructor(redis: Redis, options: { prefix: string; ttlSeconds: number }, fence?: Fence) {
    this.redis = redis;
    this.options = options;
    this.prefix = redisKeys.store(options.prefix);
    this.ttlSeconds = Math.round(options.ttlSeconds);
    this.fence = fence;
  }

  /** The same store whose update() writes only while `fence` holds its egress's lease (a recording owner's view). */
  withFence(fence: Fence): EgressStore {
    return new EgressStore(this.redis, this.options, fence);
  }

  private infoKey = (id: string) => `${this.prefix}:info:${id}`;
  private roomKey = (room: string) => `${this.prefix}:room:${room}`;
  private allKey = () => `${this.prefix}:all`;
  private activeKey = () => `${this.prefix}:active`;

  async create(info: EgressInfo): Promise<void> {
    const created = await this.redis.set(this.infoKey(info.egressId), Buffer.from(info.toBinary()), 'NX');
    if (created !== 'OK') throw new Error(`egress ${info.egressId} already exists`);
    const multi = this.redis
      .multi()
      .zadd(this.allKey(), Number(info.startedAt / 1_000_000n), info.egressId)
      .sadd(this.activeKey(), info.egressId);
    if (info.roomName) multi.sadd(this.roomKey(info.roomName), info.egressId).persist(this.roomKey(info.roomName));
    await multi.exec();
  }

  async get(egressId: string): Promise<EgressInfo | undefined> {
    const bytes = await this.redis.getBuffer(this.infoKey(egressId));
    return bytes ? EgressInfo.fromBinary(bytes) : undefined;
  }

  /**
   * Applies `change` to the current record and writes it if nobody else wrote in between (else retries
   * with the fresh record). `change` returns false to leave the record as it is. A record with a terminal
   * status is never changed. Returns the record as stored afterwards, and whether this call changed it; on a
   * fenced view, a write its fence refuses changes nothing and says why.
   */
  async update(egressId: string, change: (info: EgressInfo) => boolean | void): Promise<StoreUpdate | undefined> {
    return this.write(egressId, change, false, this.fence);
  }

  /**
   * Changes the results of an egress that has ended (a salvaged recording's location); its status, error and
   * times stay as they are, the error only gaining `note` (how the results came to be) when one is given. A
   * record that has not ended is left alone.
   */
  async amendEnded(egressId: string, change: (info: EgressInfo) => void, note?: string): Promise<EgressInfo | undefined> {
    const result = await this.write(
      egressId,
      (info) => {
        const { status, error, errorCode, endedAt, details } = info;
        change(info);
        Object.assign(info, { status, error: note && !error.includes(note) ? `${error}; ${note}` : error, errorCode, endedAt, details });
      },
      true,
      undefined,
    );
    return result?.info;
  }

  /**
   * The CAS loop of update/amendEnded: `amending` picks which records it may touch (ended ones, or not ended);
   * with a `fence`, each compare-and-set also checks the lease (shared/lease/fenced-compare-and-set.ts).
   */
  private async write(
    egressId: string,
    change: (info: EgressInfo) => boolean | void,
    amending: boolean,
    fence: Fence | undefined,
  ): Promise<StoreUpdate | undefined> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const before = await this.redis.getBuffer(this.infoKey(egressId));
      if (!before) return undefined;
      const info = EgressInfo.fromBinary(before);
      if (isTerminal(info.status) !== amending || change(info) === false) return { info, changed: false };
      info.updatedAt = BigInt(Date.now()) * 1_000_000n;
      const ended = isTerminal(info.status);
      const after = Buffer.from(info.toBinary());
      const ttl = ended ? this.ttlSeconds : 0;
      let ok: boolean;
      if (fence) {
        const result = await fencedCompareAndSet(this.redis, fence, this.infoKey(egressId), before, after, ttl);
        if (!result.ok && result.reason !== 'changed') return { info: EgressInfo.fromBinary(before), changed: false, refused: result.reason };
        ok = result.ok;
      } else {
        ok = (await this.redis.eval(CAS_SCRIPT, 1, this.infoKey(egressId), before, after, ttl)) === 1;
      }
      if (ok) {
        if (ended && !amending) await this.retire(info);
        return { info, changed: true };
      }
    }
    throw new Error(`egress ${egressId}: too many concurrent updates`);
  }

  async list(filter: ListFilter): Promise<EgressInfo[]> {
    let ids: string[];
    if (filter.egressId) ids = [filter.egressId];
    else if (filter.roomName) ids = await this.redis.smembers(this.roomKey(filter.roomName));
    else if (filter.active) ids = await this.redis.smembers(this.activeKey());
    else ids = await this.redis.zrange(this.allKey(), 0, -1);
    if (ids.length === 0) return [];
    const values = await this.redis.mgetBuffer(...ids.map(this.infoKey));
    const found: EgressInfo[] = [];
    const expired: string[] = [];
    values.forEach((bytes, i) => (bytes ? found.push(EgressInfo.fromBinary(bytes)) : expired.push(ids[i]!)));
    if (expired.length && !filter.egressId) await this.forget(expired, filter.roomName);
    return found
      .filter((info) => !filter.active || isActive(info.status))
      .filter((info) => !filter.roomName || info.roomName === filter.roomName)
      .sort((a, b) => (a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : 0));
  }

  /** Ids of every egress not yet ended. */
  activeIds(): Promise<string[]> {
    return this.redis.smembers(this.activeKey());
  }

  /** An ended egress leaves the active set; its room index expires with the room's last record. */
  private async retire(info: EgressInfo): Promise<void> {
    await this.redis.srem(this.activeKey(), info.egressId);
    if (!info.roomName) return;
    const stillActive = await this.redis.sintercard(2, this.roomKey(info.roomName), this.activeKey());
    if (stillActive === 0) await this.redis.expire(this.roomKey(info.roomName), this.ttlSeconds);
  }

  private async forget(ids: string[], roomName?: string): Promise<void> {
    const multi = this.redis
      .multi()
      .zrem(this.allKey(), ...ids)
      .srem(this.activeKey(), ...ids);
    if (roomName) multi.srem(this.roomKey(roomName), ...ids);
    await multi.exec();
  }
}
