/**
 * The parts of a recording, in Redis: which worker recorded each, in which working directory, from which
 * first frame, and until when it was last seen recording. A recording that never changed workers has one
 * part. Whoever ends the recording (the last part's finalize, or the salvage when nobody took over) reads
 * it to find every part's capture and the gaps between them; a new part reads it to know how much was
 * recorded before it (session limits count across parts).
 */
import type { ServiceContext } from '../context.ts';
import type { Fence } from '../lease/fence.ts';
import { fencedHset, FenceRefusedError } from '../lease/fenced-write.ts';
import { OwnerLog, type OwnerLogOptions } from '../lease/owner-log.ts';
import type { Redis } from '../redis.ts';
import { outlivingRecordTtlSec, redisKeys } from '../redis-keys.ts';

export interface RecordedPart {
  /** 1 for the egress's first recording, then one more per takeover. */
  part: number;
  workerId: string;
  /** Its working directory on the shared tmp_dir (partWorkDir). */
  workDir: string;
  /** Unix ms of the part's first frame. */
  startedAtMs: number;
  /** Unix ms the part was last seen recording (renewed while it records; its end, once it is over). */
  lastSeenAtMs: number;
  /** Parts after the first: unix ms the previous part's worker was found lost. */
  lostAtMs?: number;
}

/** How often a recording part renews its `lastSeenAtMs`. */
export const PART_SEEN_INTERVAL_MS = 5_000;

type PartFields = Omit<RecordedPart, 'lastSeenAtMs'>;

export class PartLog extends OwnerLog<PartLog> {
  constructor(redis: Redis, options: OwnerLogOptions, fence?: Fence) {
    super(redis, redisKeys.parts(options.prefix), options, fence);
  }

  withFence(fence: Fence): PartLog {
    return new PartLog(this.redis, this.options, fence);
  }

  /** A part's first frame: it is a part of the recording from now on. */
  async started(egressId: string, part: PartFields): Promise<void> {
    await this.write(egressId, { [`part:${part.part}`]: JSON.stringify(part), [`seen:${part.part}`]: String(part.startedAtMs) }, this.ttlSeconds);
  }

  /** The part still records at `atMs` (or ended then). */
  async seen(egressId: string, part: number, atMs: number): Promise<void> {
    await this.write(egressId, { [`seen:${part}`]: String(atMs) });
  }

  /** HSET, and the expiry if given; fenced, it throws FenceRefusedError once the fence no longer holds. */
  private async write(egressId: string, fields: Record<string, string>, ttlSec = 0): Promise<void> {
    if (this.fence) {
      const written = await fencedHset(this.redis, this.fence, this.key(egressId), fields, ttlSec);
      if (!written.ok) throw new FenceRefusedError('part log write', written.reason);
      return;
    }
    const multi = this.redis.multi().hset(this.key(egressId), fields);
    if (ttlSec > 0) multi.expire(this.key(egressId), ttlSec);
    await multi.exec();
  }

  /** Every part that reached its first frame, in order. */
  async list(egressId: string): Promise<RecordedPart[]> {
    const fields = new Map(Object.entries(await this.redis.hgetall(this.key(egressId))));
    const parts: RecordedPart[] = [];
    for (const [field, value] of fields) {
      if (!field.startsWith('part:')) continue;
      const part = JSON.parse(value) as PartFields;
      const seen = Number(fields.get(`seen:${part.part}`) ?? part.startedAtMs);
      parts.push({ ...part, lastSeenAtMs: Math.max(seen, part.startedAtMs) });
    }
    return parts.sort((a, b) => a.part - b.part);
  }
}

/** The part log of a service's Redis, kept as long as the segment log (jobs read it after the record is gone). */
export function partLogOf(ctx: Pick<ServiceContext, 'redis' | 'config'>): PartLog {
  return new PartLog(ctx.redis, { prefix: ctx.config.redis.prefix, ttlSeconds: outlivingRecordTtlSec(ctx.config.egress_ttl) });
}
