/**
 * `GET /scaling/<pool>`: the pool's backlog as JSON (backlog.ts), the trigger of the Helm chart's KEDA
 * ScaledObjects (metrics-api scaler, `valueLocation: backlog`, target = the pool's concurrency per replica):
 *
 *   {"pool":"room-composite","backlog":3,"waiting":1,"delayed":0,"active":2}
 *
 * Open like /metrics: counts only, no names. 404 for a name that is not a pool; 503 while Redis does not
 * answer (KEDA then keeps the replicas it has rather than scale on a guess).
 */
import type { FastifyInstance } from 'fastify';
import { isPoolName, type ReadBacklog } from './backlog.ts';

export interface ScalingOptions {
  backlog: ReadBacklog;
}

export async function scalingRoutes(app: FastifyInstance, options: ScalingOptions): Promise<void> {
  app.get<{ Params: { pool: string } }>('/scaling/:pool', async (request, reply) => {
    const { pool } = request.params;
    if (!isPoolName(pool)) return reply.code(404).send({ error: 'not a pool' });
    try {
      return await options.backlog(pool);
    } catch (err) {
      return reply.code(503).send({ error: (err as Error).message });
    }
  });
}
