/**
 * Redis gone before the shutdown (killed with SIGKILL mid-recording, nothing persisted), then SIGTERM to the
 * service: the drain still ends in bounded time. The recording is stopped after shutdown_grace and finalized
 * without Redis: its file lands in the local recordings folder, playable, and the service logs, naming the
 * egress, that its end could not be recorded. Nothing the service started is left.
 */
import { EgressStatus, EncodedFileOutput } from '@livekit/protocol';
import { EgressClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { processesMentioning, waitForStatus } from '../support/egress-waits.ts';
import { probe } from '../support/ffprobe.ts';
import { nothingLeft, npmStart } from '../support/npm-start.ts';
import { startRedis } from '../support/redis-server.ts';
import { startTestPage } from '../support/test-page.ts';

const KEY = 'gone-key';
const SECRET = 'gone-secret-0123456789abcdef0123';
const GRACE_SEC = 2;
/** shutdown_grace, then finalizing without Redis: a few seconds; never the minutes of an unbounded wait. */
const EXIT_LIMIT_MS = 30_000;

test('Redis killed, then SIGTERM: bounded exit, the file finalized to the recordings folder, a log line naming the egress', async () => {
  const redis = await startRedis();
  const page = await startTestPage();
  const root = await mkdtemp(join(tmpdir(), 'egress-redis-gone-'));
  const service = await npmStart(root, {
    // A lease that outlives the shutdown: the worker still owns the egress while it finalizes without Redis (with
    // the default 6 s, a Redis gone for 5 s stops the recording as lost, for another worker to take over later).
    env: {
      REDIS_URL: redis.url,
      LIVEKIT_API_KEY: KEY,
      LIVEKIT_API_SECRET: SECRET,
      EGRESS_CONFIG_BODY: stringify({ shutdown_grace: GRACE_SEC, takeover: { lease_ttl: 30 } }),
    },
  });
  try {
    const client = new EgressClient(service.url, KEY, SECRET);
    const started = await client.startWebEgress(page.url, new EncodedFileOutput({ filepath: 'gone/take.mp4' }));
    await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE], 60_000);
    await delay(4000);

    const [server] = await processesMentioning(`127.0.0.1:${redis.port}`);
    assert.ok(server, 'the redis-server process');
    process.kill(server.pid, 'SIGKILL');
    await delay(1000);
    service.signalGroup('SIGTERM');
    // npm itself returns at once on SIGTERM (its shell dies of it); the service drains on: wait for it.
    const tookMs = await nothingLeft(service, EXIT_LIMIT_MS);
    console.log(`Redis gone, SIGTERM → every process gone: ${tookMs} ms (shutdown_grace ${GRACE_SEC} s)`);

    const file = join(service.recordingsDir, 'gone', 'take.mp4');
    assert.ok(existsSync(file), `${file}\n${service.output().slice(-4000)}`);
    const media = await probe(file);
    assert.ok(media.format.duration > 4, `${media.format.duration} s recorded`);
    assert.ok(
      media.streams.some((s) => s.codec_type === 'video'),
      'a video stream',
    );

    const lines = service
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { egressId?: string; msg?: string });
    const told = lines.find((line) => line.egressId === started.egressId && /Redis is unavailable/.test(line.msg ?? ''));
    assert.ok(told, 'a log line names the egress and says what could not be recorded');
    assert.match(told.msg!, new RegExp(`finalized at ${file}`));
  } finally {
    await service.kill();
    await redis.stop();
    await page.close();
    await rm(root, { recursive: true, force: true });
  }
});
