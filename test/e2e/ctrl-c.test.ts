/**
 * Ctrl-C on `npm start` (the embedded default: it starts its own redis-server), as a terminal sends it: SIGINT
 * to every process of the foreground group. The running recording is stopped and finalized like a
 * StopEgress (COMPLETE, its file in the recordings folder, its webhook delivered), everything exits within
 * 30 s, and the embedded Redis is stopped after the service with its data kept. A second Ctrl-C exits at
 * once and leaves the recording playable.
 */
import { EgressStatus, EncodedFileOutput, WebhookConfig, type EgressInfo } from '@livekit/protocol';
import { EgressClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { loadConfig } from '../../shared/config/load.ts';
import { EgressStore } from '../../shared/egress-store.ts';
import { createRedis } from '../../shared/redis.ts';
import { waitForStatus } from '../support/egress-waits.ts';
import { probe } from '../support/ffprobe.ts';
import { DEV_KEY, DEV_SECRET, exitWithin, nothingLeft, npmStart, processesTagged, type NpmStart } from '../support/npm-start.ts';
import { startRedis } from '../support/redis-server.ts';
import { startTestPage, type TestPage } from '../support/test-page.ts';
import { startWebhookSink, type WebhookSink } from '../support/webhook-sink.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** What Ctrl-C must take at most, signal to a returned terminal with nothing left running. */
const CTRL_C_LIMIT_MS = 30_000;
/** The second Ctrl-C comes while the first one's finalizing is under way, and must end it at once. */
const SECOND_CTRL_C_AFTER_MS = 300;
const SECOND_CTRL_C_LIMIT_MS = 5_000;

/** The egress as the embedded Redis kept it (its append-only file in the cache folder), read by a redis-server of our own. */
async function keptEgress(cacheDir: string, egressId: string): Promise<EgressInfo | undefined> {
  const server = await startRedis({ dataDir: join(cacheDir, 'redis') });
  try {
    const config = loadConfig({
      env: { REDIS_URL: server.url, LIVEKIT_API_KEY: 'reader', LIVEKIT_API_SECRET: 'reader-secret-0123456789abcdef0123' },
    });
    const redis = createRedis(config, 'kept-egress');
    try {
      return await new EgressStore(redis, { prefix: config.redis.prefix, ttlSeconds: 60 }).get(egressId);
    } finally {
      redis.disconnect();
    }
  } finally {
    await server.stop();
  }
}

/** A web egress recording for a few seconds on `service`, its webhooks going to `hooks`. */
async function recording(service: NpmStart, page: TestPage, hooks: WebhookSink): Promise<string> {
  const client = new EgressClient(service.url, DEV_KEY, DEV_SECRET);
  const webhooks = [new WebhookConfig({ url: hooks.url, signingKey: DEV_KEY })];
  const started = await client.startWebEgress(page.url, new EncodedFileOutput({ filepath: 'ctrl-c/take.mp4' }), { webhooks });
  await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE], 60_000);
  await sleep(4000);
  return started.egressId;
}

/** The egress ended COMPLETE, kept by the embedded Redis; its file in the recordings folder, playable; its egress_ended webhook delivered. */
async function finalized(service: NpmStart, hooks: WebhookSink, egressId: string): Promise<void> {
  const ended = await keptEgress(service.cacheDir, egressId);
  assert.equal(ended?.status, EgressStatus.EGRESS_COMPLETE, `${ended?.status} ${ended?.error}\n${service.output().slice(-3000)}`);
  assert.equal(ended.details, 'End reason: Server shutting down');
  const location = ended.fileResults[0]?.location ?? '';
  assert.ok(location.startsWith(service.recordingsDir) && existsSync(location), location);
  await playable(location);
  const hook = hooks.events.find((e) => e.event === 'egress_ended' && e.egressInfo?.egressId === egressId);
  assert.equal(hook?.egressInfo?.status, EgressStatus.EGRESS_COMPLETE, 'egress_ended delivered before the exit');
}

/** ffprobe reads the file: more than 2 s, a video stream. Its duration. */
async function playable(path: string): Promise<number> {
  const media = await probe(path);
  assert.ok(media.format.duration > 2, `${path}: ${media.format.duration} s recorded`);
  assert.ok(
    media.streams.some((s) => s.codec_type === 'video'),
    `${path}: a video stream`,
  );
  return media.format.duration;
}

describe('Ctrl-C on npm start', { concurrency: false }, () => {
  let page: TestPage;
  let hooks: WebhookSink;
  let root: string;
  let service: NpmStart | undefined;

  before(async () => {
    page = await startTestPage();
    hooks = await startWebhookSink(DEV_KEY, DEV_SECRET);
  });
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'egress-ctrl-c-'));
    service = await npmStart(root);
  });
  afterEach(async () => {
    await service?.kill();
    await rm(root, { recursive: true, force: true });
  });
  after(async () => {
    await page?.close();
    await hooks?.close();
  });

  test('Ctrl-C while recording: COMPLETE, the file in the recordings folder, webhook delivered, all gone within 30 s', async () => {
    const egressId = await recording(service!, page, hooks);
    service!.signalGroup('SIGINT');
    const tookMs = await exitWithin(service!, CTRL_C_LIMIT_MS);
    await nothingLeft(service!);
    console.log(`Ctrl-C → exit: ${tookMs} ms`);
    // npm, interrupted, passes the signal on to itself once its script has ended: the shell shows 130.
    assert.equal((await service!.exited).signal, 'SIGINT');
    assert.match(service!.output(), /workers stopped/, 'the service closed in order');
    assert.doesNotMatch(service!.output(), /did not finish in time/);
    await finalized(service!, hooks, egressId);
  });

  test('A second Ctrl-C exits at once; the recording is left playable', async () => {
    const egressId = await recording(service!, page, hooks);
    service!.signalGroup('SIGINT');
    await sleep(SECOND_CTRL_C_AFTER_MS);
    service!.signalGroup('SIGINT');
    const tookMs = await exitWithin(service!, SECOND_CTRL_C_LIMIT_MS);
    await nothingLeft(service!);
    console.log(`second Ctrl-C → exit: ${tookMs} ms`);
    assert.equal((await service!.exited).signal, 'SIGINT', 'exits as interrupted');
    assert.match(service!.output(), /exiting now: recordings are cut off/, 'the service exited at once, not in order');
    // Finalizing was under way: the file is in the recordings folder if it got that far, else where the
    // recorder wrote it crash-safe (fragmented MP4) in tmp_dir (<temp folder>/egress-queue/<egress id>),
    // readable however it was cut off, for the next start's reaper and salvage job to deliver.
    const workDir = join(root, 'tmp', 'egress-queue', egressId);
    const left = [join(service!.recordingsDir, 'ctrl-c', 'take.mp4'), join(workDir, 'capture.mp4')].find((path) => existsSync(path));
    assert.ok(left, `no recording left; its working directory holds ${existsSync(workDir) ? (await readdir(workDir)).join(', ') : 'nothing'}`);
    console.log(`left: ${left}, ${await playable(left)} s`);
    // Redis was stopped after the service, with what it held: the egress is there, not finished.
    const kept = await keptEgress(service!.cacheDir, egressId);
    assert.ok(kept && kept.status !== EgressStatus.EGRESS_COMPLETE, `kept as ${kept?.status}`);
  });

  test('kill -TERM of the whole group drains (the service gets one signal): still recording 5 s later; Ctrl-C then stops it, COMPLETE', async () => {
    const egressId = await recording(service!, page, hooks);
    service!.signalGroup('SIGTERM');
    await sleep(5000);
    // npm itself is gone by now (its shell dies of the SIGTERM, and npm follows), the service drains on.
    const encoders = (await processesTagged('EGRESS_ID', egressId)).filter((p) => p.command.includes('ffmpeg'));
    assert.ok(encoders.length > 0, 'the recording goes on during the drain');
    service!.signalGroup('SIGINT');
    const tookMs = await nothingLeft(service!, CTRL_C_LIMIT_MS);
    console.log(`SIGTERM, then Ctrl-C → all gone: ${tookMs} ms`);
    await finalized(service!, hooks, egressId);
  });
});
