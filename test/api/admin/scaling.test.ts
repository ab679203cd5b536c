/**
 * The autoscaling trigger, `GET /scaling/<pool>` (and `egress_queue_backlog` in /metrics), through the whole
 * API app against a real redis-server: Start RPCs queue jobs and start-deadline bookkeeping, a real BullMQ
 * worker holds one job and hands others back as a full worker does (admission), an upload flow leaves its
 * finalize parent waiting for its children. The backlog counts exactly what waits for or holds a worker of
 * the pool, and nothing else.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EgressInfo, EncodedFileOutput, WebEgressRequest } from '@livekit/protocol';
import { DelayedError, Worker, type Job } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { AccessToken } from 'livekit-server-sdk';
import { BACKLOG_MAX_AGE_MS, type Backlog } from '../../../api/admin/backlog.ts';
import { buildServer } from '../../../api/server.ts';
import { bullConnection, bullPrefix, HOUSEKEEPING_QUEUE } from '../../../shared/queues.ts';
import { createApiDeps, TEST_API_KEY, TEST_API_SECRET, type TestApiDeps } from '../../support/api-deps.ts';
import { startRedis, type RedisServer } from '../../support/redis-server.ts';

describe('autoscaling trigger: GET /scaling/<pool>', () => {
  let redis: RedisServer;
  let deps: TestApiDeps;
  let app: FastifyInstance;
  let worker: Worker | undefined;
  let release: () => void = () => undefined;

  const backlog = async (pool: string): Promise<Backlog> => {
    const res = await app.inject({ method: 'GET', url: `/scaling/${pool}` });
    assert.equal(res.statusCode, 200, res.body);
    return res.json();
  };
  /** Polls until the pool's count is `expected` (a count is shared for BACKLOG_MAX_AGE_MS), and returns it. */
  const backlogBecomes = async (pool: string, expected: Partial<Backlog>): Promise<Backlog> => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const seen = await backlog(pool);
      if (Object.entries(expected).every(([k, v]) => seen[k as keyof Backlog] === v) || Date.now() > deadline) return seen;
      await sleep(BACKLOG_MAX_AGE_MS / 2);
    }
  };
  const startWebEgress = async (): Promise<string> => {
    const token = new AccessToken(TEST_API_KEY, TEST_API_SECRET, { ttl: 600, identity: 'scaling-test' });
    token.addGrant({ roomRecord: true });
    const request = new WebEgressRequest({ url: 'http://127.0.0.1:9/page', fileOutputs: [new EncodedFileOutput({ filepath: 'scaling.mp4' })] });
    const res = await app.inject({
      method: 'POST',
      url: '/twirp/livekit.Egress/StartWebEgress',
      headers: { authorization: `Bearer ${await token.toJwt()}`, 'content-type': 'application/json' },
      payload: request.toJsonString(),
    });
    assert.equal(res.statusCode, 200, res.body);
    return EgressInfo.fromJson(res.json()).egressId;
  };

  before(async () => {
    redis = await startRedis();
    deps = createApiDeps(redis.url);
    app = await buildServer(deps);
    await app.ready();
  });
  after(async () => {
    release();
    await worker?.close(true);
    await app?.close();
    await deps?.close();
    await redis?.stop();
  });

  test('an idle service: every pool at 0; a name that is not a pool (the housekeeping queue) is 404', async () => {
    for (const pool of ['room-composite', 'track-composite', 'track', 'upload', 'webhook']) {
      assert.deepEqual(await backlog(pool), { pool, backlog: 0, waiting: 0, delayed: 0, active: 0 });
    }
    assert.equal((await app.inject({ method: 'GET', url: `/scaling/${HOUSEKEEPING_QUEUE}` })).statusCode, 404);
    assert.equal((await app.inject({ method: 'GET', url: '/scaling/constructor' })).statusCode, 404);
  });

  test('three Start RPCs: a backlog of 3 on room-composite, their start-deadline jobs not counted', async () => {
    const ids = await Promise.all([startWebEgress(), startWebEgress(), startWebEgress()]);
    assert.equal(new Set(ids).size, 3);
    // The bookkeeping is there (one delayed deadline job per egress), and on another queue.
    assert.equal(await deps.queues.get(HOUSEKEEPING_QUEUE).getDelayedCount(), 3);
    assert.deepEqual(await backlogBecomes('room-composite', { backlog: 3 }), {
      pool: 'room-composite',
      backlog: 3,
      waiting: 3,
      delayed: 0,
      active: 0,
    });
    assert.equal((await backlog('track')).backlog, 0);
  });

  test('a worker holding one job and handing the others back (full): still 3, as active 1 + delayed 2', async () => {
    const held = new Promise<void>((resolve) => (release = resolve));
    let holding = false;
    worker = new Worker(
      'room-composite',
      async (job: Job, token?: string) => {
        if (!holding) {
          holding = true;
          await held;
          return 'recorded';
        }
        // What admission does when this worker has no room (workers/recording/job-processor.ts).
        await job.moveToDelayed(Date.now() + 60_000, token);
        throw new DelayedError();
      },
      { connection: bullConnection(deps.config), prefix: bullPrefix(deps.config), concurrency: 2 },
    );
    const seen = await backlogBecomes('room-composite', { active: 1, delayed: 2 });
    assert.deepEqual(seen, { pool: 'room-composite', backlog: 3, waiting: 0, delayed: 2, active: 1 });
    // The Prometheus gauge is the same count.
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /^egress_queue_backlog\{pool="room-composite"\} 3$/m);
    assert.match(metrics, /^egress_queue_backlog\{pool="upload"\} 0$/m);

    release();
    assert.equal((await backlogBecomes('room-composite', { backlog: 2 })).backlog, 2, 'a finished job leaves the backlog');
  });

  test('upload: a finalize parent waiting for its uploads needs no worker and is not counted', async () => {
    await deps.queues.flows().add({
      name: 'finalize',
      queueName: 'upload',
      data: { egressId: 'EG_scaling' },
      children: [
        { name: 'upload', queueName: 'upload', data: { egressId: 'EG_scaling' } },
        { name: 'upload', queueName: 'upload', data: { egressId: 'EG_scaling' } },
      ],
    });
    assert.equal(await deps.queues.get('upload').getWaitingChildrenCount(), 1);
    assert.deepEqual(await backlogBecomes('upload', { backlog: 2 }), { pool: 'upload', backlog: 2, waiting: 2, delayed: 0, active: 0 });
  });

  test('Redis gone: 503, so that an autoscaler keeps what it has rather than scale on a guess', async () => {
    await worker?.close(true);
    worker = undefined;
    await redis.stop();
    await sleep(BACKLOG_MAX_AGE_MS + 50);
    const res = await app.inject({ method: 'GET', url: '/scaling/room-composite' });
    assert.equal(res.statusCode, 503);
    assert.match(res.json().error, /Redis/);
  });
});
