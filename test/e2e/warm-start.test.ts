/**
 * A web egress started through the API on a worker with a warm pool (warm_pool.size 1): ACTIVE within a
 * second of the RPC, the file fine, a new station ready after; the drain (as on SIGTERM) ends every station.
 */
import { EgressStatus, EncodedFileOutput } from '@livekit/protocol';
import { EgressClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { STATION_TAG } from '../../workers/web/warm-pool.ts';
import { waitForStatus } from '../support/egress-waits.ts';
import { probe } from '../support/ffprobe.ts';
import { E2E_API_KEY, E2E_API_SECRET, startService, type TestService } from '../support/service.ts';
import { startTestPage, type TestPage } from '../support/test-page.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Pids of every warm station process on the machine. */
async function stationProcesses(): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const environ = await readFile(`/proc/${entry}/environ`, 'latin1').catch(() => '');
    if (environ.split('\0').some((variable) => variable.startsWith(`${STATION_TAG}=`))) pids.push(Number(entry));
  }
  return pids;
}

describe('warm start', { concurrency: false }, () => {
  let service: TestService;
  let page: TestPage;
  let client: EgressClient;

  before(async () => {
    page = await startTestPage();
    service = await startService({ warm_pool: { size: 1 } });
    client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
  });
  after(async () => {
    await service?.stop();
    await page?.close();
  });

  test('Web/File on a warm station: ACTIVE about 0.5 s after the RPC, COMPLETE with a playable MP4, a new station after', async () => {
    const pool = service.workers.ctx.warmPool;
    assert.ok(pool, 'the room-composite worker has a warm pool');
    await pool.ready();
    const [first] = pool.idleIds();

    const sentAt = Date.now();
    const started = await client.startWebEgress(page.url, new EncodedFileOutput({ filepath: 'warm/{time}.mp4' }));
    const active = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE]);
    const latencyMs = Number(active.startedAt / 1_000_000n) - sentAt;
    // About 0.4–0.55 s here (cold: 0.9–1.4 s; `npm run bench web-start`); the bound leaves room for a busy test machine.
    assert.ok(latencyMs < 1500, `RPC → ACTIVE ${latencyMs} ms`);
    assert.ok(!pool.idleIds().includes(first!), 'the recording took the ready station');
    await sleep(3000);
    await client.stopEgress(started.egressId);
    const done = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 60_000);
    assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
    const media = await probe(done.fileResults[0]!.location);
    assert.deepEqual(
      media.streams.map((stream) => stream.codec_name),
      ['h264', 'aac'],
    );
    assert.equal(media.streams[0]?.width, 1280);

    await pool.ready();
    assert.equal(pool.idleIds().length, 1);
    assert.notEqual(pool.idleIds()[0], first);
  });

  test('the drain ends the idle stations', async () => {
    await service.workers.ctx.warmPool!.ready();
    assert.ok((await stationProcesses()).length > 0);
    await service.workers.close(0);
    assert.deepEqual(await stationProcesses(), []);
  });
});
