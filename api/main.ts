/** The API entry: the Twirp service, Bull Board, health and metrics, and the housekeeping chores. */
import { pathToFileURL } from 'node:url';
import type { LoadedConfig } from '../shared/config/load.ts';
import { createServiceContext } from '../shared/context.ts';
import type { Logger } from '../shared/logger.ts';
import { runMain, type Running } from '../shared/run-main.ts';
import { startHousekeeping } from './housekeeping.ts';
import { buildServer } from './server.ts';

export async function startApi(config: LoadedConfig, log: Logger): Promise<Running & { url: string; listening: string[] }> {
  const ctx = createServiceContext(config, log, 'api');
  if (config.usingDevKeys) {
    log.warn('no API key configured: accepting the development key pair devkey / secret (embedded default only)');
  }
  const app = await buildServer(ctx);
  const housekeeping = await startHousekeeping(ctx);
  const address = await app.listen({ port: config.port, host: config.host });
  const url = address.replace('0.0.0.0', '127.0.0.1').replace('[::]', '127.0.0.1');
  // What the sockets are bound to (`localhost` binds both loopbacks), not the URL to connect to.
  const listening = app.addresses().map((a) => (typeof a === 'string' ? a : a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`));
  log.info({ url, listening }, 'API listening');
  return {
    url,
    listening,
    async close() {
      await app.close();
      await housekeeping.close();
      await ctx.close();
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await runMain('api', startApi);
}
