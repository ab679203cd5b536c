/** Redis connections: one factory, so every part of the service connects the same way. */
import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from './config/schema.ts';

export function redisOptions(config: Pick<Config, 'redis'>): RedisOptions {
  const [host, port] = splitAddress(config.redis.address || '127.0.0.1:6379');
  return {
    host,
    port,
    username: config.redis.username || undefined,
    password: config.redis.password || undefined,
    db: config.redis.db,
    ...(config.redis.use_tls ? { tls: {} } : {}),
    // BullMQ workers block on Redis; they must wait for a reconnect rather than fail a command.
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
  };
}

function splitAddress(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  if (i < 0) return [address, 6379];
  return [address.slice(0, i).replace(/^\[|\]$/g, ''), Number(address.slice(i + 1)) || 6379];
}

export function createRedis(config: Pick<Config, 'redis'>, connectionName: string): Redis {
  return new Redis({ ...redisOptions(config), connectionName });
}

export type { Redis };
