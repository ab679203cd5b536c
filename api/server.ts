/**
 * Builds the API application: the Twirp service, Bull Board, health and metrics. No listening here, so
 * tests can `inject()` requests.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../shared/config/load.ts';
import type { ControlChannel } from '../shared/control.ts';
import type { EgressEvents } from '../shared/egress-events.ts';
import type { Queues } from '../shared/queues.ts';
import type { Redis } from '../shared/redis.ts';
import { adminRoutes } from './admin/index.ts';
import { EgressService } from './egress-service.ts';
import { twirpRoutes } from './twirp/routes.ts';

export interface ApiDeps {
  config: LoadedConfig;
  redis: Redis;
  queues: Queues;
  events: EgressEvents;
  control: ControlChannel;
  log: Logger;
}

export async function buildServer(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // Per-request lines only at debug: a metrics scraper every few seconds would drown everything else.
    loggerInstance: deps.log.child({ component: 'http' }, { level: deps.log.isLevelEnabled('debug') ? deps.log.level : 'warn' }) as FastifyBaseLogger,
    // Request ids in logs tie a client's call to what followed.
    requestIdHeader: 'x-livekit-request-id',
    trustProxy: true,
  });
  const service = new EgressService({ config: deps.config, events: deps.events, queues: deps.queues, control: deps.control, log: deps.log });
  await app.register(twirpRoutes, { service, apiKeys: deps.config.apiKeys });
  await app.register(adminRoutes, deps);
  return app;
}
