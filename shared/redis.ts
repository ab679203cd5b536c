/** Redis connections: one factory, so every part of the service connects the same way. */
import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from './config/schema.ts';

/** At shutdown, how long a command may wait for its answer from a Redis that is there but does not answer. */
const SHUTDOWN_COMMAND_TIMEOUT_MS = 3000;

/**
 * How to reach Redis: `redis.address`, or with `redis.sentinel_master_name` the primary the Sentinels name
 * (ioredis asks them at every connect, so a failover is followed). Every connection of the service, BullMQ's
 * included, is made from these options.
 */
export function redisOptions(config: Pick<Config, 'redis'>): RedisOptions {
  const redis = config.redis;
  const common: RedisOptions = {
    username: redis.username || undefined,
    password: redis.password || undefined,
    db: redis.db,
    // BullMQ workers block on Redis; they must wait for a reconnect rather than fail a command.
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
  };
  if (redis.sentinel_master_name) {
    return {
      ...common,
      name: redis.sentinel_master_name,
      // The config holds each as host:port (26379 is Sentinel's own port).
      sentinels: redis.sentinel_addresses.map((address) => {
        const [host, port] = splitAddress(address, 26379);
        return { host, port };
      }),
      sentinelUsername: redis.sentinel_username || undefined,
      sentinelPassword: redis.sentinel_password || undefined,
      // TLS to the Sentinels, and to the primary they name.
      ...(redis.use_tls ? { tls: {}, sentinelTLS: {}, enableTLSForSentinelMode: true } : {}),
    };
  }
  const [host, port] = splitAddress(redis.address || '127.0.0.1:6379', 6379);
  return { ...common, host, port, ...(redis.use_tls ? { tls: {} } : {}) };
}

/** `host:port` or `[v6]:port` split; `defaultPort` when there is no port. */
function splitAddress(address: string, defaultPort: number): [string, number] {
  const i = address.lastIndexOf(':');
  if (i < 0 || address.endsWith(']')) return [address.replace(/^\[|\]$/g, ''), defaultPort];
  return [address.slice(0, i).replace(/^\[|\]$/g, ''), Number(address.slice(i + 1)) || defaultPort];
}

export function createRedis(config: Pick<Config, 'redis'>, connectionName: string): Redis {
  return new Redis({ ...redisOptions(config), connectionName });
}

/**
 * From now on (a shutdown whose recordings are stopped) a command fails rather than waits for a Redis that
 * is gone: not queued while disconnected, the ones already queued failed at the next reconnect attempt (at
 * most 2 s away), and none waits longer than SHUTDOWN_COMMAND_TIMEOUT_MS for an answer. While running, the
 * connection waits out an outage instead (a Redis restart must not fail a recording).
 */
export function failFast(redis: Redis): void {
  redis.options.enableOfflineQueue = false;
  redis.options.maxRetriesPerRequest = 0;
  redis.options.commandTimeout = SHUTDOWN_COMMAND_TIMEOUT_MS;
}

/** Whether failFast() was called on `redis` (the process is shutting down). */
export function failsFast(redis: Redis): boolean {
  return redis.options.enableOfflineQueue === false;
}

/** Resolves once `redis` has no usable connection: at once if it has none now, else when it loses it. */
export function unavailable(redis: Redis): Promise<void> {
  if (redis.status !== 'ready') return Promise.resolve();
  return new Promise((resolve) => {
    const lost = () => {
      redis.off('close', lost).off('end', lost);
      resolve();
    };
    redis.on('close', lost).on('end', lost);
  });
}

export type { Redis };
