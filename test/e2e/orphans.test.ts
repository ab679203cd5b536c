/**
 * No orphans (issue 12): a worker SIGKILLed mid-recording (the OOM killer, a crash: no handler of its runs)
 * takes every process it started with it, within seconds — Xvfb, Chromium and its helpers, the PulseAudio
 * daemon and its sink readers, the capture ffmpeg, the stream ffmpeg, the G.711 encoder — found by the owner
 * tag in their environment (EGRESS_OWNER=<the worker's pid>:<its start time>) and by the process groups they
 * led; and the salvage still delivers what was recorded. Web egress, room composite through Chromium and
 * through the SDK (audio only), each with a file and an RTMP stream; track egress of a G.711 track (its
 * encoder is an ffmpeg). The recorders run in child worker processes; the API, the upload pool (salvage), the
 * LiveKit server and the RTMP server run here.
 */
import { DirectFileOutput, EgressStatus, EncodedFileOutput, EncodedFileType, StreamOutput, StreamProtocol } from '@livekit/protocol';
import { dispose } from '@livekit/rtc-node';
import { EgressClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { watchdogPid } from '../../workers/process/group-watchdog.ts';
import { OWN_OWNER, ownerOf } from '../../workers/process/owner-tag.ts';
import { waitForFileLocation, waitForStatus } from '../support/egress-waits.ts';
import { probe } from '../support/ffprobe.ts';
import { startG711Publisher, type G711Publisher } from '../support/g711-publisher.ts';
import { startLiveKitServer, type LiveKitServer } from '../support/livekit-server.ts';
import { processesOwnedBy, untilAllGone } from '../support/owned-processes.ts';
import { startPublisher, type TestPublisher } from '../support/publisher.ts';
import { startRtmpServer, type RtmpServer } from '../support/rtmp-server.ts';
import { E2E_API_KEY, E2E_API_SECRET, startService, type TestService } from '../support/service.ts';
import { startTestPage, type TestPage } from '../support/test-page.ts';
import { spawnWorker } from '../support/worker-process.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** What "with the worker" means here; measured: well under a second. */
const GONE_WITHIN_MS = 10_000;
const ROOM = 'orphans';

describe('a worker SIGKILLed mid-recording leaves no process running', { concurrency: false }, () => {
  let page: TestPage;
  let livekit: LiveKitServer;
  let rtmp: RtmpServer;
  let service: TestService;
  let client: EgressClient;
  const workers: ChildProcess[] = [];
  const publishers: (TestPublisher | G711Publisher)[] = [];
  let webEgressId: string | undefined;

  before(async () => {
    page = await startTestPage();
    livekit = await startLiveKitServer({ apiKey: E2E_API_KEY, apiSecret: E2E_API_SECRET, emptyTimeoutSec: 120 });
    rtmp = await startRtmpServer();
    // Here: the API (with the reaper) and the upload pool (salvage). The recorders run in worker processes.
    // Takeovers off: each test's worker would otherwise take over the egress the test before it killed.
    service = await startService({ ws_url: livekit.url, pools: ['upload', 'webhook'], takeover: { enabled: false } });
    client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
  });
  after(async () => {
    for (const worker of workers) if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
    await Promise.all(publishers.map((p) => p.leave().catch(() => undefined)));
    await dispose();
    await service?.stop();
    await rtmp?.stop();
    await livekit?.stop();
    await page?.close();
  });

  /** A worker process running `pools`, and its owner tag value. */
  const startWorker = (pools: string[]) => {
    const worker = spawnWorker(service, pools);
    workers.push(worker);
    const owner = ownerOf(worker.pid!);
    assert.ok(owner, 'the worker runs');
    return { worker, owner };
  };

  /**
   * SIGKILLs the worker once `expected` (program names) run for it, then waits until nothing tagged with its
   * owner, and nothing in the process groups they led, runs. Returns the programs that ran.
   */
  const killAndCheck = async (t: TestContext, worker: ChildProcess, owner: string, expected: string[]) => {
    const running = await processesOwnedBy(owner);
    const programs = running.map((p) => basename(p.command));
    for (const program of expected) assert.ok(programs.includes(program), `${program} runs for the worker: ${programs.join(', ')}`);
    worker.kill('SIGKILL');
    const goneMs = await untilAllGone(owner, new Set(running.map((p) => p.pgid)), GONE_WITHIN_MS);
    t.diagnostic(`${running.length} processes (${programs.join(', ')}) gone ${goneMs} ms after the SIGKILL`);
    return programs;
  };

  /** Waits until the RTMP server has received `key`'s stream for a while (its recording grows). */
  const untilStreaming = async (key: string) => {
    for (let i = 0; i < 100; i++) {
      const recording = (await rtmp.recordings()).find((path) => basename(path).startsWith(key));
      if (recording && (await stat(recording)).size > 50_000) return;
      await sleep(200);
    }
    assert.fail(`the RTMP server received no stream for ${key}`);
  };

  test('web egress (file + RTMP): Xvfb, Chromium, PulseAudio, parec, the capture and the stream ffmpeg all go', async (t) => {
    const { worker, owner } = startWorker(['room-composite']);
    const started = await client.startWebEgress(page.url, {
      file: new EncodedFileOutput({ filepath: 'orphans/web.mp4' }),
      stream: new StreamOutput({ protocol: StreamProtocol.RTMP, urls: [rtmp.url('good-web')] }),
    });
    webEgressId = started.egressId;
    await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE], 60_000);
    await untilStreaming('good-web');
    await sleep(3000);
    const programs = await killAndCheck(t, worker, owner, ['Xvfb', 'chromium', 'pulseaudio', 'parec', 'ffmpeg']);
    assert.ok(programs.filter((p) => p === 'ffmpeg').length >= 2, `the capture and the stream ffmpeg: ${programs.join(', ')}`);
  });

  test('room composite through Chromium (file + RTMP): every process goes', async (t) => {
    const { worker, owner } = startWorker(['room-composite']);
    publishers.push(
      await startPublisher({ url: livekit.url, apiKey: E2E_API_KEY, apiSecret: E2E_API_SECRET, room: ROOM, identity: 'cam', audio: true }),
    );
    const started = await client.startRoomCompositeEgress(ROOM, {
      file: new EncodedFileOutput({ filepath: 'orphans/room.mp4' }),
      stream: new StreamOutput({ protocol: StreamProtocol.RTMP, urls: [rtmp.url('good-room')] }),
    });
    await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE], 60_000);
    await untilStreaming('good-room');
    await killAndCheck(t, worker, owner, ['Xvfb', 'chromium', 'pulseaudio', 'parec', 'ffmpeg']);
  });

  test('audio-only room composite, the SDK path without Chromium (file + RTMP): its ffmpegs go', async (t) => {
    const { worker, owner } = startWorker(['room-composite']);
    const started = await client.startRoomCompositeEgress(
      ROOM,
      {
        file: new EncodedFileOutput({ fileType: EncodedFileType.MP4, filepath: 'orphans/room-audio.mp4' }),
        stream: new StreamOutput({ protocol: StreamProtocol.RTMP, urls: [rtmp.url('good-audio')] }),
      },
      { audioOnly: true },
    );
    await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE], 60_000);
    await untilStreaming('good-audio');
    const programs = await killAndCheck(t, worker, owner, ['ffmpeg']);
    assert.ok(!programs.includes('chromium'), `no Chromium on this path: ${programs.join(', ')}`);
  });

  test('track egress of a G.711 track: its ffmpeg encoder goes', async (t) => {
    const { worker, owner } = startWorker(['track']);
    const publisher = await startG711Publisher({
      url: livekit.url,
      apiKey: E2E_API_KEY,
      apiSecret: E2E_API_SECRET,
      room: ROOM,
      identity: 'sip',
      law: 'pcmu',
    });
    publishers.push(publisher);
    const started = await client.startTrackEgress(ROOM, new DirectFileOutput({ filepath: 'orphans/{track_id}' }), publisher.trackSid);
    await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE], 60_000);
    await sleep(3000);
    await killAndCheck(t, worker, owner, ['ffmpeg']);
  });

  test('the web egress killed above: FAILED, and the salvage delivers what it had recorded', async () => {
    assert.ok(webEgressId, 'the web egress ran');
    const failed = await waitForStatus(client, webEgressId, [EgressStatus.EGRESS_FAILED, EgressStatus.EGRESS_COMPLETE], 90_000);
    assert.equal(failed.status, EgressStatus.EGRESS_FAILED);
    assert.match(failed.error, /stopped \(killed, or its node lost\)/);
    const salvaged = await waitForFileLocation(client, webEgressId, 60_000);
    const file = salvaged.fileResults[0];
    assert.ok(file && file.location.startsWith(service.recordingsDir), `salvaged to ${file?.location}`);
    const info = await probe(file.location);
    assert.equal(info.streams.find((s) => s.codec_type === 'video')?.codec_name, 'h264');
    assert.ok(info.format.duration >= 3, `salvaged ${info.format.duration} s`);
  });
});

test('this test process leaves nothing running: no process carries its owner tag after the teardown', async () => {
  const left = await processesOwnedBy(OWN_OWNER, [watchdogPid()]);
  assert.deepEqual(left, []);
});
