/**
 * The API entry: the Twirp service, Bull Board, health and metrics, and the housekeeping chores. It holds no
 * recordings: on any signal it stops at once, within API_CLOSE_MS even with Redis gone.
 */
import { pathToFileURL } from 'node:url';
import type { LoadedConfig } from '../shared/config/load.ts';
import { createServiceContext } from '../shared/context.ts';
import { Deadline } from '../shared/deadline.ts';
import type { Logger } from '../shared/logger.ts';
import { failFast, unavailable } from '../shared/redis.ts';
import { runMain } from '../shared/run-main.ts';
import { startHousekeeping } from './housekeeping.ts';
import { buildServer } from './server.ts';

/** Requests in progress, the chores and the connections get this long to end when the API closes. */
const API_CLOSE_MS = 3000;

export interface RunningApi {
  url: string;
  listening: string[];
  close(): Promise<void>;
}

export async function startApi(config: LoadedConfig, log: Logger): Promise<RunningApi> {
  const ctx = createServiceContext(config, log, 'api');
  if (config.usingDevKeys) {
    log.warn('no API key configured: accepting the development key pair devkey / secret (embedded default only)');
  }
  const app = await buildServer(ctx);
  const housekeeping = await startHousekeeping(ctx);
  const address = await app.listen({ port: config.port, host: config.host });
  const url = address.replace('0.0.0.0', '127.0.0.1').replace('[::]', '127.0.0.1');
  // What the sockets are bound to (`localhost` binds both loopbacks), not the URL to connect to.
  const listening = app
    .addresses()
    .map((a) => (typeof a === 'string' ? a : a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`));
  log.info({ url, listening }, 'API listening');
  return {
    url,
    listening,
    async close() {
      // A request or chore waiting for a Redis that is gone fails now instead of holding the close.
      failFast(ctx.redis);
      const deadline = new Deadline();
      deadline.within(API_CLOSE_MS);
      const redisGone = unavailable(ctx.redis).then(() => 'Redis is unavailable');
      if (!(await deadline.wait(app.close(), 'the HTTP requests in progress', log))) app.server.closeAllConnections();
      await deadline.wait(housekeeping.close(), 'the housekeeping chores', log, redisGone);
      await deadline.wait(ctx.close(), 'the Redis connections', log);
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await runMain('api', async (config, log) => {
    const api = await startApi(config, log);
    return { close: () => api.close() };
  });
}
