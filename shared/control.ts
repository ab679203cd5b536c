/**
 * Control messages to a running egress, wherever it runs: Redis pub/sub on a channel per egress, plus a
 * "stop requested" mark that a worker checks when it picks the job up, so a stop sent while the job was
 * still queued (or between pick-up and subscribe) is never lost.
 */
import type { Redis } from './redis.ts';
import { redisKeys, RETENTION_SEC } from './redis-keys.ts';

/** The reason a StopEgress call gives (LiveKit's `End reason: StopEgress API`). */
export const STOP_EGRESS_API = 'StopEgress API';

export type ControlMessage =
  | { type: 'stop'; reason: string }
  /** The egress's stream URLs changed (sealed secrets and StreamInfo already updated): apply them. */
  | { type: 'update_stream' };

export class ControlChannel {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(redis: Redis, prefix: string) {
    this.redis = redis;
    this.prefix = redisKeys.control(prefix);
  }

  channel(egressId: string): string {
    return `${this.prefix}:${egressId}`;
  }

  private stopKey = (egressId: string) => `${this.prefix}:stop:${egressId}`;

  /** Marks the egress as to be stopped and tells the worker running it. Returns how many processes heard it. */
  async requestStop(egressId: string, reason: string): Promise<number> {
    await this.redis.set(this.stopKey(egressId), reason, 'EX', RETENTION_SEC);
    return this.send(egressId, { type: 'stop', reason });
  }

  /** Tells the worker running the egress; returns how many processes heard it. */
  send(egressId: string, message: ControlMessage): Promise<number> {
    return this.redis.publish(this.channel(egressId), JSON.stringify(message));
  }

  /** The reason of a stop requested earlier, if any. */
  stopRequested(egressId: string): Promise<string | null> {
    return this.redis.get(this.stopKey(egressId));
  }
}

/**
 * The receiving side: one subscriber connection per worker process, one handler per running egress.
 */
export class ControlSubscriber {
  private readonly subscriber: Redis;
  private readonly channels: ControlChannel;
  private readonly handlers = new Map<string, (message: ControlMessage) => void>();

  constructor(subscriber: Redis, channels: ControlChannel) {
    this.subscriber = subscriber;
    this.channels = channels;
    subscriber.on('message', (channel: string, raw: string) => {
      const handler = this.handlers.get(channel);
      if (!handler) return;
      try {
        handler(JSON.parse(raw) as ControlMessage);
      } catch {
        // A message that is not ours to parse is ignored.
      }
    });
  }

  async listen(egressId: string, handler: (message: ControlMessage) => void): Promise<() => Promise<void>> {
    const channel = this.channels.channel(egressId);
    this.handlers.set(channel, handler);
    await this.subscriber.subscribe(channel);
    return async () => {
      this.handlers.delete(channel);
      await this.subscriber.unsubscribe(channel).catch(() => undefined);
    };
  }

  async close(): Promise<void> {
    this.handlers.clear();
    this.subscriber.disconnect();
  }
}
