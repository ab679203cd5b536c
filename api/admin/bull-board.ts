/**
 * Bull Board, the BullMQ dashboard, over every queue of the service, behind Basic auth. Registered as an
 * encapsulated plugin whose onRequest hook runs before every route inside it, Bull Board's page, API and
 * static files alike: the board can retry, clean and delete jobs, so none of it may be open.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { AuthThrottle } from '../../shared/auth-throttle.ts';
import { requireBasicAuth } from './basic-auth.ts';

export const BULL_BOARD_PATH = '/admin/queues';

export interface BullBoardOptions {
  queues: Queue[];
  apiKeys: ReadonlyMap<string, string>;
  throttle: AuthThrottle;
}

/** Register with `{ prefix: BULL_BOARD_PATH }`. */
export async function bullBoardRoutes(app: FastifyInstance, options: BullBoardOptions): Promise<void> {
  app.addHook('onRequest', requireBasicAuth(options.apiKeys, options.throttle));
  const serverAdapter = new FastifyAdapter().setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    queues: options.queues.map((queue) => new BullMQAdapter(queue)),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'egress-queue' } },
  });
  await app.register(serverAdapter.registerPlugin());
}
