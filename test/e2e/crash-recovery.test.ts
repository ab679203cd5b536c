/**
 * A recording worker killed with SIGKILL mid-recording, with its Chromium, ffmpeg and Xvfb (a node lost):
 * the API's reaper ends the egress FAILED with the reason within 60 s, never leaving it ACTIVE, and the
 * salvage job delivers what was recorded until the kill as a playable file. The recorder runs in a child
 * process (a worker container); the API and the upload pool run here.
 */
import { EgressStatus, EncodedFileOutput } from '@livekit/protocol';
import { EgressClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { waitForFileLocation, waitForStatus } from '../support/egress-waits.ts';
import { probe } from '../support/ffprobe.ts';
import { E2E_API_KEY, E2E_API_SECRET, startService, type TestService } from '../support/service.ts';
import { spawnWorker } from '../support/worker-process.ts';
import { startTestPage } from '../support/test-page.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Pids of processes started for `egressId` (the supervisor gives each EGRESS_ID in its environment). */
async function processesOf(egressId: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const environ = await readFile(`/proc/${entry}/environ`, 'latin1').catch(() => '');
    if (environ.split('\0').includes(`EGRESS_ID=${egressId}`)) pids.push(Number(entry));
  }
  return pids;
}

describe('crash recovery', { concurrency: false }, () => {
  let service: TestService;
  let page: Awaited<ReturnType<typeof startTestPage>>;
  let client: EgressClient;
  let worker: ChildProcess | undefined;

  before(async () => {
    page = await startTestPage();
    // Here: the API (with the reaper) and the upload pool. The recorder is a separate process. Takeovers off:
    // this is what happens when no worker can take the egress over (test/e2e/takeover-control.test.ts: one can).
    service = await startService({ pools: ['upload', 'webhook'], takeover: { enabled: false } });
    client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
  });
  after(async () => {
    if (worker?.exitCode === null) worker.kill('SIGKILL');
    await service?.stop();
    await page?.close();
  });

  test('SIGKILL mid-recording: FAILED with the reason within 60 s, what was recorded delivered and playable', async (t) => {
    worker = spawnWorker(service, ['room-composite']);
    const started = await client.startWebEgress(page.url, new EncodedFileOutput({ filepath: 'crash/{time}.mp4' }));
    await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE], 60_000);
    await sleep(6000);

    // The node is lost: the worker and everything it started die at once.
    const recorderProcesses = await processesOf(started.egressId);
    assert.ok(recorderProcesses.length >= 2, 'ffmpeg and Chromium run for the egress');
    worker.kill('SIGKILL');
    for (const pid of recorderProcesses) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    const killedAt = Date.now();
    const [during] = await client.listEgress({ egressId: started.egressId });
    assert.notEqual(during?.status, EgressStatus.EGRESS_COMPLETE);

    const failed = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_FAILED, EgressStatus.EGRESS_COMPLETE], 60_000);
    const detectedSec = (Date.now() - killedAt) / 1000;
    t.diagnostic(`FAILED ${detectedSec.toFixed(1)} s after the kill`);
    assert.equal(failed.status, EgressStatus.EGRESS_FAILED);
    assert.match(failed.error, /stopped \(killed, or its node lost\)/);
    assert.ok(detectedSec <= 60, `${detectedSec} s`);
    const [active] = await client.listEgress({ active: true });
    assert.equal(active, undefined, 'nothing left active');

    // The salvage job delivers the recording up to the kill.
    const salvaged = await waitForFileLocation(client, started.egressId);
    const file = salvaged.fileResults[0];
    assert.ok(file?.location, 'the salvaged file has a location');
    assert.equal(salvaged.status, EgressStatus.EGRESS_FAILED, 'the amend keeps the status');
    assert.ok(existsSync(file.location) && file.location.startsWith(service.recordingsDir), file.location);
    const info = await probe(file.location);
    assert.equal(info.streams.find((s) => s.codec_type === 'video')?.codec_name, 'h264');
    assert.ok(info.format.duration >= 3 && info.format.duration <= 10, `salvaged ${info.format.duration} s of ~6 s`);
    assert.ok(Math.abs(Number(file.duration) / 1e9 - info.format.duration) < 1);
    // No second recorder was started for it.
    assert.deepEqual(await processesOf(started.egressId), []);
  });
});
