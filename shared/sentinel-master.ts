/**
 * At start, with Redis behind Sentinel: do the Sentinels know the primary by `redis.sentinel_master_name`?
 * Left to the connections, a wrong name (or a wrong Sentinel password) would look like an outage: ioredis
 * retries forever, saying "All sentinels are unreachable". Asked once here, it stops the start with a message
 * naming the key. Sentinels that do not answer (not up yet, unreachable) say nothing: the service then
 * starts and waits for Redis, as it does without Sentinel.
 */
import { Redis, ReplyError, type RedisOptions, type SentinelAddress } from 'ioredis';
import type { Config } from './config/schema.ts';
import { redisOptions } from './redis.ts';

/** How long one Sentinel gets to connect and answer (all are asked at once). */
const ASK_TIMEOUT_MS = 2000;

/** What one Sentinel said: it knows the primary, refused (the key to blame and why), or could not be asked. */
type Answer = { sentinel: string; knows: boolean; refusal?: { key: string; why: string } };

/** What is wrong, naming the config key, or undefined (no Sentinel configured, one knows the name, or none answered). */
export async function sentinelMasterProblem(config: Pick<Config, 'redis'>): Promise<string | undefined> {
  const options = redisOptions(config);
  if (!options.sentinels) return undefined;
  const name = config.redis.sentinel_master_name;
  const answers = await Promise.all(options.sentinels.map((sentinel) => ask(options, sentinel, name)));
  if (answers.some((a) => a.knows)) return undefined;
  const refused = answers.filter((a) => a.refusal);
  if (refused.length === 0) return undefined;
  const keys = [...new Set(refused.map((a) => a.refusal!.key))].join(', ');
  return `config key ${keys}: no Sentinel gives the primary "${name}": ${refused.map((a) => `${a.sentinel} ${a.refusal!.why}`).join('; ')}`;
}

async function ask(options: RedisOptions, sentinel: Partial<SentinelAddress>, name: string): Promise<Answer> {
  const label = `${sentinel.host}:${sentinel.port}`;
  const client = new Redis({
    host: sentinel.host,
    port: sentinel.port,
    username: options.sentinelUsername,
    password: options.sentinelPassword,
    tls: options.sentinelTLS,
    connectTimeout: ASK_TIMEOUT_MS,
    commandTimeout: ASK_TIMEOUT_MS,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableReadyCheck: false,
    lazyConnect: true,
  });
  // A refused AUTH comes as an error event, and the connection closes.
  let refused: Error | undefined;
  client.on('error', (err: Error) => {
    if (err instanceof ReplyError) refused = err;
  });
  try {
    await client.connect();
    const address = await client.call('SENTINEL', 'get-master-addr-by-name', name);
    if (address) return { sentinel: label, knows: true };
    return {
      sentinel: label,
      knows: false,
      refusal: { key: 'redis.sentinel_master_name', why: 'knows no primary by that name (its `sentinel monitor` names another)' },
    };
  } catch (err) {
    // An error reply: something answers there, and refuses. Anything else: it could not be asked.
    const reply = err instanceof ReplyError ? (err as Error) : refused;
    if (!reply) return { sentinel: label, knows: false };
    const key = /NOAUTH|WRONGPASS/.test(reply.message) ? 'redis.sentinel_username, redis.sentinel_password' : 'redis.sentinel_addresses';
    return { sentinel: label, knows: false, refusal: { key, why: `refused: ${reply.message}` } };
  } finally {
    client.disconnect();
  }
}
