/**
 * A track egress worker killed with SIGKILL mid-recording (a node lost): the API's reaper ends the egress
 * FAILED, and the salvage job makes the MP4 users would have had from the crash-safe capture the recorder
 * left (append-only Matroska of the publisher's H.264), named with the room's naming variables the recorder
 * wrote beside it. The recorder runs in a child process (a worker container); the API, the upload pool, the
 * LiveKit server and the publisher run here.
 */
import { DirectFileOutput, EgressStatus } from '@livekit/protocol';
import { dispose } from '@livekit/rtc-node';
import { EgressClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { waitForFileLocation, waitForStatus } from '../support/egress-waits.ts';
import { probe } from '../support/ffprobe.ts';
import { startLiveKitServer, type LiveKitServer } from '../support/livekit-server.ts';
import { startPublisher, type TestPublisher } from '../support/publisher.ts';
import { E2E_API_KEY, E2E_API_SECRET, startService, type TestService } from '../support/service.ts';
import { spawnWorker } from '../support/worker-process.ts';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('track egress crash recovery', { concurrency: false }, () => {
  let livekit: LiveKitServer;
  let service: TestService;
  let client: EgressClient;
  let publisher: TestPublisher | undefined;
  let worker: ChildProcess | undefined;

  before(async () => {
    livekit = await startLiveKitServer({ apiKey: E2E_API_KEY, apiSecret: E2E_API_SECRET });
    // Here: the API (with the reaper) and the upload pool. The track recorder is a separate process. Takeovers
    // off: this is what happens when no worker can take the egress over.
    service = await startService({ ws_url: livekit.url, pools: ['upload', 'webhook'], takeover: { enabled: false } });
    client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
  });
  after(async () => {
    if (worker?.exitCode === null) worker.kill('SIGKILL');
    await publisher?.leave().catch(() => undefined);
    await dispose();
    await service?.stop();
    await livekit?.stop();
  });

  test('SIGKILL mid-recording: FAILED, the capture salvaged into the MP4 (publisher H.264, named as the recorder would have)', async (t) => {
    worker = spawnWorker(service, ['track']);
    publisher = await startPublisher({
      url: livekit.url,
      apiKey: E2E_API_KEY,
      apiSecret: E2E_API_SECRET,
      room: 'crash',
      identity: 'crash-pub',
      video: { codec: 'h264', width: 640, height: 360, fps: 30 },
      audio: false,
    });
    const trackId = publisher.trackSid('video')!;
    const started = await client.startTrackEgress('crash', new DirectFileOutput({ filepath: 'crash/{track_id}-{publisher_identity}' }), trackId);
    const active = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE], 60_000);
    await sleep(6000);
    worker.kill('SIGKILL');
    const killedAtMs = Date.now();
    const recordedSec = (killedAtMs - Number(active.startedAt / 1_000_000n)) / 1000;

    const failed = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_FAILED, EgressStatus.EGRESS_COMPLETE], 60_000);
    assert.equal(failed.status, EgressStatus.EGRESS_FAILED);
    assert.match(failed.error, /stopped \(killed, or its node lost\)/);
    const salvaged = await waitForFileLocation(client, started.egressId);
    const file = salvaged.fileResults[0];
    assert.ok(file?.location, 'the salvaged file has a location');
    assert.equal(file.filename, `crash/${trackId}-crash-pub.mp4`);
    assert.ok(existsSync(file.location) && file.location.startsWith(service.recordingsDir), file.location);
    const info = await probe(file.location);
    t.diagnostic(
      `FAILED ${((Date.now() - killedAtMs) / 1000).toFixed(1)} s after the kill (salvaged by then); ${info.format.duration.toFixed(2)} s salvaged of ${recordedSec.toFixed(2)} s recorded`,
    );
    assert.equal(info.format.format_name, 'mov,mp4,m4a,3gp,3g2,mj2');
    assert.equal(info.streams.length, 1);
    assert.equal(info.streams[0]?.codec_name, 'h264');
    // Nothing lost but what was in flight: the capture is on disk frame by frame.
    assert.ok(info.format.duration > recordedSec - 1 && info.format.duration < recordedSec + 1, `${info.format.duration} s of ${recordedSec} s`);
    const { stderr } = await run('ffmpeg', ['-v', 'error', '-i', file.location, '-f', 'null', '-']);
    assert.equal(stderr.trim(), '', 'decodes without errors');
  });
});
