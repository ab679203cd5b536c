/**
 * Webhook delivery through the queue: signed so WebhookReceiver accepts it, retried with backoff when the
 * receiver fails, filtered per request target; request targets sealed at rest, job data naming them by reference.
 */
import { EgressInfo, EgressStatus } from '@livekit/protocol';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { loadConfig } from '../../../shared/config/load.ts';
import { nowNanos } from '../../../shared/ids.ts';
import { startWorkers, type RunningWorkers } from '../../../workers/main.ts';
import { startRedis, type RedisServer } from '../../support/redis-server.ts';
import { startWebhookSink, type WebhookSink } from '../../support/webhook-sink.ts';

const KEY = 'hook-key';
const SECRET = 'hook-secret-0123456789abcdef';
const OTHER_KEY = 'other-key';
const OTHER_SECRET = 'other-secret-0123456789abcdef';

let redis: RedisServer;
let sink: WebhookSink;
let otherSink: WebhookSink;
let workers: RunningWorkers;

before(async () => {
  redis = await startRedis();
  sink = await startWebhookSink(KEY, SECRET);
  otherSink = await startWebhookSink(OTHER_KEY, OTHER_SECRET);
  const config = loadConfig({
    env: {
      REDIS_URL: redis.url,
      LIVEKIT_API_KEY: KEY,
      LIVEKIT_API_SECRET: SECRET,
      EGRESS_CONFIG_BODY: stringify({ pools: ['webhook'], keys: { [OTHER_KEY]: OTHER_SECRET }, webhook: { urls: [sink.url], backoff: 50 } }),
    },
  });
  workers = await startWorkers(config, pino({ level: 'silent' }));
});
after(async () => {
  await workers?.close(0);
  await sink?.close();
  await otherSink?.close();
  await redis?.stop();
});

async function until(what: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!what()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('Webhook/Retried: two failed deliveries, then accepted by WebhookReceiver', async () => {
  sink.failNext(2);
  const info = new EgressInfo({ egressId: 'EG_hookretry0001', roomName: 'r1', status: EgressStatus.EGRESS_STARTING, startedAt: nowNanos() });
  await workers.ctx.events.create(info, []);
  await until(() => sink.events.some((e) => e.egressInfo?.egressId === info.egressId));
  const event = sink.events.find((e) => e.egressInfo?.egressId === info.egressId)!;
  assert.equal(event.event, 'egress_started');
  assert.equal(event.room?.name, 'r1');
  assert.match(event.id, /^EV_/);
  assert.deepEqual(sink.rejected, []);
});

test('Webhook/RequestTargets: signed with the named key, include/exclude filters honoured', async () => {
  const info = new EgressInfo({ egressId: 'EG_hooktargets01', status: EgressStatus.EGRESS_STARTING, startedAt: nowNanos() });
  await workers.ctx.events.create(info, [{ url: otherSink.url, apiKey: OTHER_KEY, includeEvents: ['egress_ended'], excludeEvents: [] }]);
  await workers.ctx.events.markActive(info.egressId, Date.now());
  await workers.ctx.events.end(info.egressId, { status: EgressStatus.EGRESS_ABORTED, error: 'x', reason: 'test' });
  const mine = (s: WebhookSink) => s.events.filter((e) => e.egressInfo?.egressId === info.egressId).map((e) => e.event);
  await until(() => mine(otherSink).length >= 1 && mine(sink).length >= 3);
  assert.deepEqual(mine(otherSink), ['egress_ended']);
  assert.deepEqual(new Set(mine(sink)), new Set(['egress_started', 'egress_updated', 'egress_ended']));
  assert.deepEqual(otherSink.rejected, []);
});

test('Webhook/Sealed: job data names the destination by reference and shows it redacted; the targets are sealed at rest', async () => {
  const url = `${otherSink.url}?token=sealed-token-0042`;
  const info = new EgressInfo({ egressId: 'EG_hooksealed001', status: EgressStatus.EGRESS_STARTING, startedAt: nowNanos() });
  await workers.ctx.events.create(info, [{ url, apiKey: OTHER_KEY, includeEvents: [], excludeEvents: [] }]);
  const mine = () => otherSink.events.filter((e) => e.egressInfo?.egressId === info.egressId);
  await until(() => mine().length === 1);
  const jobs = (await workers.ctx.queues.get('webhook').getJobs(['completed'])).filter((job) => job.data.egressId === info.egressId);
  assert.deepEqual(
    jobs.map((job) => [job.data.target, job.data.url]).sort(),
    [
      [{ source: 'config', index: 0 }, sink.url],
      [{ source: 'request', index: 0 }, `${otherSink.url}?token={...}`],
    ].sort(),
  );
  const stored = (await workers.ctx.redis.get(`${workers.ctx.config.redis.prefix}:store:webhooks:${info.egressId}`))!;
  assert.match(stored, /^v1\./);
  assert.ok(!stored.includes('sealed-token-0042') && !stored.includes(otherSink.url));
  assert.equal((await workers.ctx.events.webhooks.get(info.egressId))[0]?.url, url);
});
