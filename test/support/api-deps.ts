/**
 * The API's dependencies for tests, built exactly as the service builds them (shared/context.ts), against
 * the given Redis, with a test key pair and a silent logger.
 */
import type { Queue } from 'bullmq';
import { pino } from 'pino';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ApiDeps } from '../../api/server.ts';
import { loadConfig } from '../../shared/config/load.ts';
import { createServiceContext } from '../../shared/context.ts';

export const TEST_API_KEY = 'k';
export const TEST_API_SECRET = 's'.repeat(32);

export interface TestApiDeps extends ApiDeps {
  /** Closes the queues and the Redis connection, whether or not Redis is still up. */
  close(): Promise<void>;
}

export function createApiDeps(redisUrl: string, envOverrides: NodeJS.ProcessEnv = {}): TestApiDeps {
  const config = loadConfig({
    env: { REDIS_URL: redisUrl, LIVEKIT_API_KEY: TEST_API_KEY, LIVEKIT_API_SECRET: TEST_API_SECRET, ...envOverrides },
  });
  const context = createServiceContext(config, pino({ level: 'silent' }), 'test');
  // Tests stop Redis on purpose; without a listener ioredis prints every failed reconnect to stderr.
  context.redis.on('error', () => undefined);
  return {
    ...context,
    async close() {
      if (context.redis.status === 'ready') return context.close();
      // A graceful close sends QUIT and waits for Redis to answer: after a test stopped Redis it would
      // wait forever. Drop the connections instead.
      context.redis.disconnect();
      await Promise.all(context.queues.all().map(dropConnection));
    },
  };
}

/** Disconnects a queue without waiting for Redis; its reconnect timer would otherwise keep the test alive. */
async function dropConnection(queue: Queue): Promise<void> {
  // `client` resolves only once the queue has connected; one that never did, BullMQ closes at once.
  const client = await Promise.race([queue.client, sleep(50).then(() => undefined)]);
  if (client) client.disconnect();
  else await queue.close();
}
