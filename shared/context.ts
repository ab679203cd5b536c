/**
 * The long-lived parts every process (API or workers) builds from its config: Redis, queues, the store,
 * status events and the control channel. One place builds them, one place closes them.
 */
import type { Logger } from 'pino';
import type { LoadedConfig } from './config/load.ts';
import { ControlChannel } from './control.ts';
import { EgressEvents } from './egress-events.ts';
import { EgressStore } from './egress-store.ts';
import { Queues } from './queues.ts';
import { createRedis, type Redis } from './redis.ts';

export interface ServiceContext {
  config: LoadedConfig;
  log: Logger;
  redis: Redis;
  queues: Queues;
  events: EgressEvents;
  control: ControlChannel;
  close(): Promise<void>;
}

export function createServiceContext(config: LoadedConfig, log: Logger, name: string): ServiceContext {
  const redis = createRedis(config, `egress-queue:${name}`);
  const queues = new Queues(config);
  const store = new EgressStore(redis, { prefix: config.redis.prefix, ttlSeconds: config.egress_ttl });
  const events = new EgressEvents({ store, queues, redis, config, log });
  const control = new ControlChannel(redis, config.redis.prefix);
  return {
    config,
    log,
    redis,
    queues,
    events,
    control,
    async close() {
      await queues.close();
      redis.disconnect();
    },
  };
}
