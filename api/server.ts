/**
 * Builds the API application: the Twirp service, Bull Board, health, metrics and the built-in templates. No listening here, so
 * tests can `inject()` requests.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { ServiceContext } from '../shared/context.ts';
import { adminRoutes } from './admin/index.ts';
import { EgressService } from './egress-service.ts';
import { templateRoutes } from './templates.ts';
import { twirpRoutes } from './twirp/routes.ts';

/** What the API needs: the service context without its lifecycle (the caller owns that). */
export type ApiDeps = Omit<ServiceContext, 'close'>;

export async function buildServer(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // Per-request lines only at debug: a metrics scraper every few seconds would drown everything else.
    loggerInstance: deps.log.child({ component: 'http' }, { level: deps.log.isLevelEnabled('debug') ? deps.log.level : 'warn' }) as FastifyBaseLogger,
    // Request ids in logs tie a client's call to what followed.
    requestIdHeader: 'x-livekit-request-id',
    trustProxy: true,
  });
  const service = new EgressService(deps);
  await app.register(twirpRoutes, { service, apiKeys: deps.config.apiKeys });
  await app.register(adminRoutes, deps);
  await app.register(templateRoutes);
  return app;
}
