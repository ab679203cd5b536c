/**
 * Operator endpoints through the whole API app (buildServer) against a real redis-server: health, metrics,
 * and Bull Board behind Basic auth. The last test stops Redis, so the order of the tests matters.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EgressInfo, EgressStatus, RoomCompositeEgressRequest } from '@livekit/protocol';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../../api/server.ts';
import { ALL_QUEUES, type WebhookJobData } from '../../../shared/queues.ts';
import { createApiDeps, TEST_API_KEY, TEST_API_SECRET, type TestApiDeps } from '../../support/api-deps.ts';
import { startRedis, type RedisServer } from '../../support/redis-server.ts';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const AUTHORIZED = { authorization: basic(TEST_API_KEY, TEST_API_SECRET) };

describe('admin endpoints', () => {
  let redis: RedisServer;
  let deps: TestApiDeps;
  let app: FastifyInstance;

  before(async () => {
    redis = await startRedis();
    deps = createApiDeps(redis.url);
    app = await buildServer(deps);
    await app.ready();
    // Something to count: one live room composite egress, one webhook delivery waiting for a worker.
    await deps.events.store.create(
      new EgressInfo({
        egressId: 'EG_admin_test',
        roomName: 'room-1',
        status: EgressStatus.EGRESS_ACTIVE,
        startedAt: BigInt(Date.now()) * 1_000_000n,
        request: { case: 'roomComposite', value: new RoomCompositeEgressRequest({ roomName: 'room-1' }) },
      }),
    );
    await deps.queues.get('webhook').add('egress_started', { egressId: 'EG_admin_test' } as WebhookJobData); // only its egressId is shown
  });

  after(async () => {
    await app?.close();
    await deps?.close();
    await redis?.stop();
  });

  test('GET / describes the service and links its operator endpoints', async () => {
    const res = await app.inject({ method: 'GET', url: '/' });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.name, 'egress-queue');
    assert.match(body.version, /^\d+\.\d+\.\d+/);
    assert.deepEqual([body.links.queues, body.links.health, body.links.metrics], ['/admin/queues', '/healthz', '/metrics']);
  });

  test('GET /healthz answers 200 with Redis, active egresses and queue counts', async () => {
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.status, 'ok');
    assert.equal(body.redis, 'ok');
    assert.equal(body.activeEgresses, 1);
    assert.deepEqual(Object.keys(body.queues).sort(), [...ALL_QUEUES].sort());
    assert.equal(body.queues.webhook.waiting, 1);
    assert.equal(body.queues['room-composite'].waiting, 0);
  });

  test('GET /metrics serves process, queue, egress and BullMQ metrics, and no secret', async () => {
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const text = res.body;
    assert.match(text, /^process_cpu_user_seconds_total \d/m);
    assert.match(text, /^nodejs_eventloop_lag_seconds /m);
    assert.match(text, /^egress_queue_redis_up 1$/m);
    assert.match(text, /^egress_queue_jobs\{queue="webhook",state="waiting"\} 1$/m);
    assert.match(text, /^egress_queue_jobs\{queue="room-composite",state="active"\} 0$/m);
    assert.match(text, /^egress_queue_egresses\{type="room_composite",status="active"\} 1$/m);
    assert.match(text, /^bullmq_job_count\{queue="webhook", state="waiting"\} 1$/m);
    assert.ok(!text.includes(TEST_API_SECRET), 'the metrics name an API secret');
    // Prometheus rejects a family described twice, as naively concatenated per-queue BullMQ output would be.
    const described = text.match(/^# HELP \S+/gm) ?? [];
    assert.equal(new Set(described).size, described.length, 'a metric family has two HELP lines');
  });

  test('Bull Board refuses requests without the right API key and secret', async () => {
    const anonymous = await app.inject({ method: 'GET', url: '/admin/queues' });
    assert.equal(anonymous.statusCode, 401);
    assert.equal(anonymous.headers['www-authenticate'], 'Basic realm="egress-queue", charset="UTF-8"');
    for (const authorization of [basic(TEST_API_KEY, 'wrong'), basic('unknown', TEST_API_SECRET), 'Bearer abc', 'Basic !!!']) {
      const res = await app.inject({ method: 'GET', url: '/admin/queues', headers: { authorization } });
      assert.equal(res.statusCode, 401, authorization);
    }
    // Bull Board's API and static files are inside the same auth, not only its page.
    for (const url of ['/admin/queues/api/queues', '/admin/queues/static/favicon-32x32.png', '/admin/queues/queue/webhook']) {
      assert.equal((await app.inject({ method: 'GET', url })).statusCode, 401, url);
    }
  });

  test('Bull Board serves its page and API with an API key and its secret', async () => {
    const page = await app.inject({ method: 'GET', url: '/admin/queues', headers: AUTHORIZED });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.ok(page.body.includes('<base href="/admin/queues/"'), 'the page loads its assets from under the board path');

    const api = await app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: AUTHORIZED });
    assert.equal(api.statusCode, 200);
    const names = (api.json().queues as { name: string }[]).map((q) => q.name).sort();
    assert.deepEqual(names, [...ALL_QUEUES].sort());
  });

  test('after Redis stops, /healthz answers 503 with the reason and /metrics reports Redis down', async () => {
    await redis.stop();
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(res.statusCode, 503);
    const body = res.json();
    assert.equal(body.status, 'unavailable');
    assert.equal(body.redis, 'unreachable');
    assert.match(body.reason, /Redis/);

    // Metrics reuse a read for a few seconds; then Redis's absence shows, and the scrape still succeeds.
    const deadline = Date.now() + 10_000;
    let metrics = '';
    while (Date.now() < deadline) {
      const scrape = await app.inject({ method: 'GET', url: '/metrics' });
      assert.equal(scrape.statusCode, 200);
      metrics = scrape.body;
      if (/^egress_queue_redis_up 0$/m.test(metrics)) break;
      await sleep(250);
    }
    assert.match(metrics, /^egress_queue_redis_up 0$/m);
    assert.match(metrics, /^process_cpu_user_seconds_total /m);
    assert.doesNotMatch(metrics, /^egress_queue_jobs\{/m);
  });
});
