/**
 * Operator endpoints: `/` and `/healthz` (health.ts), `/metrics` (metrics.ts) and `/scaling/<pool>`
 * (scaling.ts), all open; Bull Board at `/admin/queues` behind Basic auth with an API key (bull-board.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { AuthThrottle } from '../../shared/auth-throttle.ts';
import type { ApiDeps } from '../api-deps.ts';
import { backlogReader } from './backlog.ts';
import { BULL_BOARD_PATH, bullBoardRoutes } from './bull-board.ts';
import { healthRoutes } from './health.ts';
import { metricsRoutes } from './metrics.ts';
import { overviewReader } from './overview.ts';
import { scalingRoutes } from './scaling.ts';

export async function adminRoutes(app: FastifyInstance, deps: ApiDeps & { authThrottle: AuthThrottle }): Promise<void> {
  // One overview for /healthz and /metrics, so probes and scrapes share their Redis reads.
  const overview = overviewReader(deps);
  const queues = deps.queues.all();
  // One backlog count per pool for the autoscaler's trigger and /metrics alike.
  const backlog = backlogReader((pool) => deps.queues.get(pool));
  await app.register(healthRoutes, { redis: deps.redis, overview });
  await app.register(metricsRoutes, { queues, overview, backlog });
  await app.register(scalingRoutes, { backlog });
  await app.register(bullBoardRoutes, { prefix: BULL_BOARD_PATH, queues, apiKeys: deps.config.apiKeys, throttle: deps.authThrottle });
}
