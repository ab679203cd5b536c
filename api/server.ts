/**
 * Builds the API application: the Twirp service, Bull Board, health, metrics and the built-in templates. No listening here, so
 * tests can `inject()` requests.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { AuthThrottle } from '../shared/auth-throttle.ts';
import { adminRoutes } from './admin/index.ts';
import type { ApiDeps } from './api-deps.ts';
import { EgressService } from './egress-service.ts';
import { redactQuery, REQUEST_LOG_SERIALIZERS } from './request-log.ts';
import { templateRoutes } from './templates.ts';
import { twirpRoutes } from './twirp/routes.ts';

export async function buildServer(deps: ApiDeps): Promise<FastifyInstance> {
  const { config, log } = deps;
  // Per-request lines only at debug: a metrics scraper every few seconds would drown everything else. Never
  // chattier than the service's own level (error, silent).
  const level = log.isLevelEnabled('debug') || !log.isLevelEnabled('warn') ? log.level : 'warn';
  // Requests and errors are logged without query values (they carry tokens): api/request-log.ts. Typed as
  // Fastify's logger interface, so that the instance is FastifyInstance's default, not one generic over pino.
  const loggerInstance: FastifyBaseLogger = log.child({ component: 'http' }, { level, serializers: REQUEST_LOG_SERIALIZERS });
  const app = Fastify({
    loggerInstance,
    // Request ids in logs tie a client's call to what followed.
    requestIdHeader: 'x-livekit-request-id',
    // request.ip is what failed authentications are counted by: X-Forwarded-For is believed only from the
    // proxies `trust_proxy` names, else any client could pick the address it is counted under.
    trustProxy: config.trust_proxy,
  });
  // Fastify's own 404 logs and answers the URL as sent, access_token included.
  app.setNotFoundHandler((request, reply) => {
    const message = `Route ${request.method}:${redactQuery(request.url)} not found`;
    request.log.info(message);
    return reply.code(404).send({ message, error: 'Not Found', statusCode: 404 });
  });
  const authThrottle = new AuthThrottle(deps.redis, config.redis.prefix, config.rate_limits.failed_auth_per_minute);
  const service = new EgressService(deps);
  await app.register(twirpRoutes, { service, apiKeys: config.apiKeys, throttle: authThrottle, limits: config.limits });
  await app.register(adminRoutes, { ...deps, authThrottle });
  await app.register(templateRoutes);
  return app;
}
