/**
 * Operator endpoints: `/` and `/healthz` (health.ts), `/metrics` (metrics.ts), both open; Bull Board at
 * `/admin/queues` behind Basic auth with an API key (bull-board.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { AuthThrottle } from '../../shared/auth-throttle.ts';
import type { ApiDeps } from '../server.ts';
import { BULL_BOARD_PATH, bullBoardRoutes } from './bull-board.ts';
import { healthRoutes } from './health.ts';
import { metricsRoutes } from './metrics.ts';
import { overviewReader } from './overview.ts';

export async function adminRoutes(app: FastifyInstance, deps: ApiDeps & { authThrottle: AuthThrottle }): Promise<void> {
  // One overview for /healthz and /metrics, so probes and scrapes share their Redis reads.
  const overview = overviewReader(deps);
  const queues = deps.queues.all();
  await app.register(healthRoutes, { redis: deps.redis, overview });
  await app.register(metricsRoutes, { queues, overview });
  await app.register(bullBoardRoutes, { prefix: BULL_BOARD_PATH, queues, apiKeys: deps.config.apiKeys, throttle: deps.authThrottle });
}
