/**
 * What the per-egress logs a recording owner writes share (the segment log, the part log): one Redis key per
 * egress under the log's own prefix, kept `ttlSeconds` from each write that sets it, and the owner's view
 * (withFence) whose writes land only while its fence holds the egress's lease (issue 16): a worker that lost
 * the egress writes nothing to them. Each log writes through the fenced script of its own data type.
 */
import type { Redis } from '../redis.ts';
import type { Fence } from './fence.ts';

export interface OwnerLogOptions {
  /** The configured `redis.prefix`. */
  prefix: string;
  ttlSeconds: number;
}

export abstract class OwnerLog<Self> {
  protected readonly redis: Redis;
  protected readonly options: OwnerLogOptions;
  protected readonly ttlSeconds: number;
  /** Set on an owner's view: every write carries it, and is refused (FenceRefusedError) once it no longer holds. */
  protected readonly fence: Fence | undefined;
  private readonly keyPrefix: string;

  /** `keyPrefix`: the log's own key prefix (redisKeys), from `options.prefix`. */
  protected constructor(redis: Redis, keyPrefix: string, options: OwnerLogOptions, fence: Fence | undefined) {
    this.redis = redis;
    this.options = options;
    this.ttlSeconds = Math.round(options.ttlSeconds);
    this.fence = fence;
    this.keyPrefix = keyPrefix;
  }

  /** The log as the recording owner holding `fence` writes it. */
  abstract withFence(fence: Fence): Self;

  protected key(egressId: string): string {
    return `${this.keyPrefix}:${egressId}`;
  }
}
