/**
 * Redis restarted mid-recording (down for 8 s, back with its append-only file, as production runs it): the
 * recording goes on, the workers and the API reconnect, the recorder keeps its lease (a lease_ttl longer than
 * the outage: a shorter one stops the recording, which is then taken over), the reaper takes nothing for a
 * dead recorder, and the egress ends COMPLETE with a file as long as the whole recording.
 */
import { EgressStatus, EncodedFileOutput } from '@livekit/protocol';
import { EgressClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitForStatus } from '../support/egress-waits.ts';
import { probe } from '../support/ffprobe.ts';
import { E2E_API_KEY, E2E_API_SECRET, startService, type TestService } from '../support/service.ts';
import { startTestPage } from '../support/test-page.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('redis restart', { concurrency: false }, () => {
  let service: TestService;
  let page: Awaited<ReturnType<typeof startTestPage>>;
  let client: EgressClient;

  before(async () => {
    page = await startTestPage();
    service = await startService({ takeover: { lease_ttl: 20, lease_renew_interval: 2, lease_safety_margin: 1 } }, { persistentRedis: true });
    client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
  });
  after(async () => {
    await service?.stop();
    await page?.close();
  });

  test('Redis down for 8 s mid-recording: the recording goes on and ends COMPLETE, its state right', async () => {
    const started = await client.startWebEgress(page.url, new EncodedFileOutput({ filepath: 'restart/{time}.mp4' }));
    await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE], 60_000);
    const activeAt = Date.now();
    await sleep(4000);
    await service.redis.restart(8000);
    // Past many reaper scans and a lease TTL after Redis is back: a wrongly taken-over or reaped egress would show now.
    await sleep(15_000);
    const [during] = await client.listEgress({ egressId: started.egressId });
    assert.equal(during?.status, EgressStatus.EGRESS_ACTIVE, `still recording after the restart: ${during?.error}`);
    await client.stopEgress(started.egressId);
    const done = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 60_000);
    assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
    const recordedSec = (Date.now() - activeAt) / 1000;
    const info = await probe(done.fileResults[0]!.location);
    assert.ok(info.format.duration > recordedSec - 4, `${info.format.duration} s recorded of ~${recordedSec.toFixed(0)} s`);
    assert.deepEqual(await client.listEgress({ active: true }), []);
  });
});
