/**
 * The long-lived parts every process (API or workers) builds from its config: Redis, queues, the store,
 * status events and the control channel. One place builds them, one place closes them.
 */
import type { Logger } from 'pino';
import type { LoadedConfig } from './config/load.ts';
import { ControlChannel } from './control.ts';
import { EgressEvents } from './egress-events.ts';
import { EgressSecretStore } from './egress-secrets.ts';
import { EgressStore } from './egress-store.ts';
import { Queues } from './queues.ts';
import { createRedis, unavailable, type Redis } from './redis.ts';
import { outlivingRecordTtlSec } from './redis-keys.ts';
import { SecretBox } from './secret-box.ts';
import { SegmentLog } from './segment-log.ts';

export interface ServiceContext {
  config: LoadedConfig;
  log: Logger;
  redis: Redis;
  queues: Queues;
  events: EgressEvents;
  /** Sealed per-egress secrets (real stream URLs). */
  secrets: EgressSecretStore;
  /** Closed HLS segments per egress, for playlists. */
  segments: SegmentLog;
  control: ControlChannel;
  close(): Promise<void>;
}

export function createServiceContext(config: LoadedConfig, log: Logger, name: string): ServiceContext {
  const redis = createRedis(config, `egress-queue:${name}`);
  // An outage is reported once per state change, not on every reconnect attempt.
  let reported = false;
  const onError = (err: Error) => {
    if (!reported) log.error({ err: err.message }, 'redis connection error; retrying');
    reported = true;
  };
  redis.on('error', onError).on('ready', () => {
    if (reported) log.info('redis connection restored');
    reported = false;
  });
  const queues = new Queues(config, onError);
  const store = new EgressStore(redis, { prefix: config.redis.prefix, ttlSeconds: config.egress_ttl });
  const box = SecretBox.fromConfig(config.secrets_key, config.apiKeys.get(config.api_key) ?? config.apiKeys.values().next().value ?? '');
  const events = new EgressEvents({ store, queues, redis, box, config, log });
  const control = new ControlChannel(redis, config.redis.prefix);
  const secrets = new EgressSecretStore(redis, box, { prefix: config.redis.prefix, ttlSeconds: outlivingRecordTtlSec(config.egress_ttl) });
  const segments = new SegmentLog(redis, { prefix: config.redis.prefix, ttlSeconds: outlivingRecordTtlSec(config.egress_ttl) });
  return {
    config,
    log,
    redis,
    queues,
    events,
    secrets,
    segments,
    control,
    async close() {
      // With Redis down, a graceful close would wait for QUIT forever: drop the connections instead (and
      // stop waiting if Redis goes while they close).
      await Promise.race([queues.close(redis.status !== 'ready'), unavailable(redis)]);
      redis.disconnect();
    },
  };
}
