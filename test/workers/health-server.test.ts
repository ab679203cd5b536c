/**
 * A worker process's health endpoint (health_port, env EGRESS_HEALTH_PORT), as a kubelet probes it: /healthz
 * ready while Redis is and its pools run, 503 while it drains (its recording going on) or while Redis is gone,
 * ready again when Redis is back; /livez 200 throughout. Real worker processes against a real Redis.
 */
import { EgressStatus, EncodedFileOutput } from '@livekit/protocol';
import { EgressClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { loadConfig } from '../../shared/config/load.ts';
import { spawnSupervised } from '../../workers/process/processes.ts';
import { startWorkers } from '../../workers/main.ts';
import { waitForStatus } from '../support/egress-waits.ts';
import { acceptsConnections, freePort } from '../support/free-port.ts';
import { E2E_API_KEY, E2E_API_SECRET, startService } from '../support/service.ts';
import { startRedis } from '../support/redis-server.ts';
import { startTestPage } from '../support/test-page.ts';
import { until } from '../support/twirp-call.ts';
import { spawnWorker } from '../support/worker-process.ts';

interface Probe {
  status: number;
  body: { status: string; reason?: string; redis?: string; pools?: Record<string, boolean>; running?: number; draining?: boolean };
}

async function probe(port: number, path: string): Promise<Probe | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) });
    return { status: res.status, body: (await res.json()) as Probe['body'] };
  } catch {
    return undefined;
  }
}

/** Probes `path` until it answers `status`; that answer. */
async function probeUntil(port: number, path: string, status: number, what: string, timeoutMs = 20_000): Promise<Probe> {
  let last: Probe | undefined;
  await until(async () => (last = await probe(port, path))?.status === status, `${what} (last: ${JSON.stringify(last)})`, timeoutMs);
  return last!;
}

const REPO = new URL('../../', import.meta.url).pathname;

/** A worker's environment without a service around it: its Redis, and its directories under `root`. */
function workerEnv(redisUrl: string, root: string): Record<string, string> {
  return {
    REDIS_URL: redisUrl,
    LIVEKIT_API_KEY: E2E_API_KEY,
    LIVEKIT_API_SECRET: E2E_API_SECRET,
    EGRESS_CONFIG_BODY: stringify({
      host: '127.0.0.1',
      tmp_dir: join(root, 'tmp'),
      storage: { local: { directory: join(root, 'recordings') } },
      logging: { level: 'warn' },
    }),
  };
}

test('Worker health: ready with its pools, 503 "draining" while a recording drains, /livez 200 throughout, gone at exit', async () => {
  // The in-process workers finalize; the worker process under test records.
  const service = await startService({ pools: ['upload', 'webhook'], shutdown_grace: 3 });
  const page = await startTestPage();
  const port = await freePort();
  const worker = spawnWorker(service, ['room-composite'], { EGRESS_HEALTH_PORT: String(port) });
  const exited = once(worker, 'exit');
  try {
    const ready = await probeUntil(port, '/healthz', 200, 'the worker ready');
    assert.deepEqual(ready.body, { status: 'ok', redis: 'ready', pools: { 'room-composite': true }, running: 0, draining: false });
    assert.equal((await probe(port, '/livez'))?.body.status, 'ok');
    assert.equal((await probe(port, '/'))?.status, 404);

    const client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
    const { egressId } = await client.startWebEgress(page.url, new EncodedFileOutput({ filepath: 'health.mp4' }));
    await waitForStatus(client, egressId, [EgressStatus.EGRESS_ACTIVE]);
    assert.equal((await probe(port, '/healthz'))?.body.running, 1);

    worker.kill('SIGTERM');
    const draining = await probeUntil(port, '/healthz', 503, 'not ready while draining', 5000);
    assert.equal(draining.body.draining, true);
    assert.match(draining.body.reason ?? '', /draining/);
    assert.equal(draining.body.running, 1, 'the recording goes on through the drain');
    assert.equal((await probe(port, '/livez'))?.status, 200, 'alive while draining: no restart mid-drain');

    const [code] = await exited;
    assert.equal(code, 0);
    assert.equal(await acceptsConnections(port), false, 'the endpoint closes with the process');
    const ended = await waitForStatus(client, egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED]);
    assert.equal(ended.status, EgressStatus.EGRESS_COMPLETE, ended.error);
  } finally {
    worker.kill('SIGKILL');
    await page.close();
    await service.stop();
  }
});

test('Worker health: Redis gone → 503 naming the connection while /livez stays 200; ready again once Redis is back', async () => {
  const redis = await startRedis({ persistent: true });
  const root = await mkdtemp(join(tmpdir(), 'egress-health-'));
  const port = await freePort();
  const worker = spawnSupervised('worker', process.execPath, ['workers/main.ts'], {
    cwd: REPO,
    env: { ...process.env, ...workerEnv(redis.url, root), EGRESS_POOLS: 'webhook', EGRESS_HEALTH_PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  }).child;
  try {
    await probeUntil(port, '/healthz', 200, 'the worker ready');
    const restarting = redis.restart(4000);
    const down = await probeUntil(port, '/healthz', 503, 'not ready without Redis', 4000);
    assert.notEqual(down.body.redis, 'ready');
    assert.match(down.body.reason ?? '', /^Redis connection is /);
    assert.equal(down.body.draining, false);
    assert.equal((await probe(port, '/livez'))?.status, 200, 'alive without Redis: an outage is waited out');
    await restarting;
    const back = await probeUntil(port, '/healthz', 200, 'ready again with Redis back', 15_000);
    assert.equal(back.body.redis, 'ready');
  } finally {
    worker.kill('SIGKILL');
    await once(worker, 'exit');
    await redis.stop();
    await rm(root, { recursive: true, force: true });
  }
});

test('Worker health: a health_port in use stops the start, naming it', async () => {
  const redis = await startRedis();
  const root = await mkdtemp(join(tmpdir(), 'egress-health-'));
  const taken = createServer().listen(0, '127.0.0.1');
  await once(taken, 'listening');
  try {
    const port = (taken.address() as AddressInfo).port;
    const config = loadConfig({ env: { ...workerEnv(redis.url, root), EGRESS_POOLS: 'webhook', EGRESS_HEALTH_PORT: String(port) } });
    await assert.rejects(startWorkers(config, pino({ level: 'silent' })), new RegExp(`health_port ${port} on 127\\.0\\.0\\.1: .*EADDRINUSE`));
  } finally {
    taken.close();
    await redis.stop();
    await rm(root, { recursive: true, force: true });
  }
});
