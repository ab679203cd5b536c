/** Every key and value a Redis holds, as an operator with redis-cli (or a dump file) would see them. */
import type { Redis } from '../../shared/redis.ts';

export async function dumpRedis(redis: Redis): Promise<string[]> {
  const everything: string[] = [];
  for (const key of await redis.keys('*')) {
    everything.push(key);
    const type = await redis.type(key);
    if (type === 'string') everything.push((await redis.getBuffer(key))!.toString('latin1'));
    else if (type === 'hash') everything.push(JSON.stringify(await redis.hgetall(key)));
    else if (type === 'list') everything.push(JSON.stringify(await redis.lrange(key, 0, -1)));
    else if (type === 'set') everything.push(JSON.stringify(await redis.smembers(key)));
    else if (type === 'zset') everything.push(JSON.stringify(await redis.zrange(key, 0, -1)));
    else if (type === 'stream') everything.push(JSON.stringify(await redis.xrange(key, '-', '+')));
    else everything.push(`<${type}>`);
  }
  return everything;
}
