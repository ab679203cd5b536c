/**
 * The API's dependencies for tests, built exactly as the service builds them (shared/context.ts), against
 * the given Redis, with a test key pair and a silent logger.
 */
import { pino } from 'pino';
import type { ApiDeps } from '../../api/api-deps.ts';
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
  // Open every queue now, so a test that stops Redis meets each one's error listener.
  context.queues.all();
  return context;
}
