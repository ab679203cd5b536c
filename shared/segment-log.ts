/**
 * The segments of an HLS output as they close, in order, in Redis: whoever renders a playlist (an upload
 * worker, perhaps on another machine, or the finalize job) reads them here.
 */
import type { Fence } from './lease/fence.ts';
import { fencedRpush, FenceRefusedError } from './lease/fenced-write.ts';
import { OwnerLog, type OwnerLogOptions } from './lease/owner-log.ts';
import type { Redis } from './redis.ts';
import { redisKeys } from './redis-keys.ts';

export interface LoggedSegment {
  /** Name relative to the playlist's directory. */
  filename: string;
  /** Storage key. */
  key: string;
  durationSec: number;
  startedAtMs: number;
  sizeBytes: number;
  /**
   * Where the recorder left it on the shared tmp_dir, until its upload succeeds: a part taking over sends from
   * here a segment its lost predecessor logged but never queued.
   */
  localPath?: string;
  /**
   * The first segment of a part after a takeover (shared/takeover/): its timestamps start over, so the
   * playlists put `#EXT-X-DISCONTINUITY` before it.
   */
  discontinuity?: boolean;
}

export class SegmentLog extends OwnerLog<SegmentLog> {
  constructor(redis: Redis, options: OwnerLogOptions, fence?: Fence) {
    super(redis, redisKeys.segments(options.prefix), options, fence);
  }

  /** Each append lands only while `fence` holds the lease: a worker that lost the egress never numbers a segment among the new owner's. */
  withFence(fence: Fence): SegmentLog {
    return new SegmentLog(this.redis, this.options, fence);
  }

  /** Appends the segment: the log's length after it (its number + 1). A fenced log whose fence no longer holds throws FenceRefusedError. */
  async append(egressId: string, segment: LoggedSegment): Promise<number> {
    if (this.fence) {
      const pushed = await fencedRpush(this.redis, this.fence, this.key(egressId), JSON.stringify(segment), this.ttlSeconds);
      if (!pushed.ok) throw new FenceRefusedError('segment log append', pushed.reason);
      return pushed.length;
    }
    const [[, length]] = (await this.redis
      .multi()
      .rpush(this.key(egressId), JSON.stringify(segment))
      .expire(this.key(egressId), this.ttlSeconds)
      .exec()) as [[null, number]];
    return length;
  }

  /** How many segments are logged: the number the next one gets (a part after a takeover numbers on from it). */
  async count(egressId: string): Promise<number> {
    return this.redis.llen(this.key(egressId));
  }

  /** The first `count` segments (all when omitted). */
  async list(egressId: string, count?: number): Promise<LoggedSegment[]> {
    const raw = await this.redis.lrange(this.key(egressId), 0, count === undefined ? -1 : count - 1);
    return raw.map((entry) => JSON.parse(entry) as LoggedSegment);
  }
}
