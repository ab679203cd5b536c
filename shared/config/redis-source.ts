/**
 * Where Redis is: one address (`redis.address` or REDIS_URL), or the Sentinels that know the primary
 * (`redis.sentinel_master_name` with `redis.sentinel_addresses`). Never both, and never half of Sentinel: a
 * config that says two things would connect to one of them silently.
 */
import type { Config } from './schema.ts';

/** What is wrong (for a ConfigError naming the key), or undefined. `fromUrl`: the address came from env REDIS_URL. */
export function redisSourceProblem(redis: Config['redis'], fromUrl: boolean): string | undefined {
  const { sentinel_master_name: name, sentinel_addresses: sentinels } = redis;
  if (!name && sentinels.length === 0) return undefined;
  if (!name) return 'config key redis.sentinel_master_name: required with redis.sentinel_addresses (the name the Sentinels know the primary by)';
  if (sentinels.length === 0) return 'config key redis.sentinel_addresses: required with redis.sentinel_master_name (host:port of each Sentinel)';
  if (redis.address) {
    const where = fromUrl ? 'env REDIS_URL' : 'config key redis.address';
    return `${where}: not used with Sentinel (redis.sentinel_master_name "${name}"): the Sentinels say where the primary is; set one or the other`;
  }
  return undefined;
}
