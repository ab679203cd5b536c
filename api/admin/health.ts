/**
 * `GET /healthz`: 200 while Redis answers, 503 with the reason otherwise (the API can do nothing without
 * Redis, so a load balancer should stop sending it requests), plus what an operator wants at a glance.
 * `GET /`: what this service is and where its operator endpoints are.
 */
import type { FastifyInstance } from 'fastify';
import packageJson from '../../package.json' with { type: 'json' };
import type { Redis } from '../../shared/redis.ts';
import { BULL_BOARD_PATH } from './bull-board.ts';
import type { Overview, ReadOverview } from './overview.ts';
import { within } from './time-limit.ts';

const PING_TIMEOUT_MS = 1000;

export interface HealthOptions {
  redis: Redis;
  overview: ReadOverview;
}

export async function healthRoutes(app: FastifyInstance, options: HealthOptions): Promise<void> {
  app.get('/', async () => ({
    name: packageJson.name,
    version: packageJson.version,
    description: packageJson.description,
    links: { queues: BULL_BOARD_PATH, health: '/healthz', metrics: '/metrics', twirp: '/twirp/livekit.Egress/' },
  }));

  app.get('/healthz', async (_request, reply) => {
    const base = { version: packageJson.version, uptimeSeconds: Math.round(process.uptime()) };
    try {
      await pingRedis(options.redis);
      const overview = await options.overview();
      const workers = overview.workers.map(({ workerId, cores, busyShare, freeCores, running, canAccept, estimates }) => ({
        workerId,
        cores,
        busyShare,
        freeCores,
        running,
        canAccept,
        estimates,
      }));
      return { status: 'ok', redis: 'ok', ...base, activeEgresses: overview.activeEgresses.length, queues: queueSummary(overview), workers };
    } catch (err) {
      return reply.code(503).send({ status: 'unavailable', redis: 'unreachable', reason: (err as Error).message, ...base });
    }
  });
}

async function pingRedis(redis: Redis): Promise<void> {
  // A client that is not connected would hold the PING until it reconnects: say so at once instead.
  if (redis.status !== 'ready') throw new Error(`Redis connection is ${redis.status}`);
  await within(redis.ping(), PING_TIMEOUT_MS, 'Redis PING');
}

/** Per queue, the counts that tell whether work is flowing: waiting (incl. prioritized), active, delayed, failed. */
function queueSummary(overview: Overview): Record<string, { waiting: number; active: number; delayed: number; failed: number }> {
  return Object.fromEntries(
    Object.entries(overview.jobCounts).map(([queue, c]) => [
      queue,
      { waiting: (c.waiting ?? 0) + (c.prioritized ?? 0), active: c.active ?? 0, delayed: c.delayed ?? 0, failed: c.failed ?? 0 },
    ]),
  );
}
