/**
 * Web egress end to end, the way a LiveKit user drives it: livekit-server-sdk's EgressClient against the
 * running API, real Redis, real Chromium/Xvfb/PulseAudio/ffmpeg, webhooks checked by WebhookReceiver, the
 * MP4 checked with ffprobe.
 */
import { DirectFileOutput, EgressStatus, EncodedFileOutput, EncodedFileType, WebEgressRequest } from '@livekit/protocol';
import { AccessToken, EgressClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { processesMentioning, waitForStatus } from '../support/egress-waits.ts';
import { probe } from '../support/ffprobe.ts';
import { E2E_API_KEY, E2E_API_SECRET, startService, type TestService } from '../support/service.ts';
import { startTestPage } from '../support/test-page.ts';
import { startWebhookSink, type WebhookSink } from '../support/webhook-sink.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('web egress', { concurrency: false }, () => {
  let service: TestService;
  let hooks: WebhookSink;
  let page: Awaited<ReturnType<typeof startTestPage>>;
  let client: EgressClient;

  before(async () => {
    hooks = await startWebhookSink(E2E_API_KEY, E2E_API_SECRET);
    page = await startTestPage();
    service = await startService({ webhook: { urls: [hooks.url], backoff: 100 }, start_signal_timeout: 5 });
    client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
  });
  after(async () => {
    await service?.stop();
    await page?.close();
    await hooks?.close();
  });

  test('Web/File: STARTING at once → ACTIVE → StopEgress → COMPLETE, a playable 720p30 H.264/AAC MP4', async () => {
    const started = await client.startWebEgress(page.url, new EncodedFileOutput({ filepath: 'web/{time}-test.mp4' }));
    assert.equal(started.status, EgressStatus.EGRESS_STARTING);
    assert.match(started.egressId, /^EG_[0-9A-Za-z]{12}$/);
    assert.equal(started.request.case, 'web');

    const active = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE]);
    const activeSeenAt = Date.now();
    await sleep(6000);
    const stopping = await client.stopEgress(started.egressId);
    const stoppedAt = Date.now();
    assert.equal(stopping.status, EgressStatus.EGRESS_ENDING);

    const done = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 60_000);
    assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
    assert.equal(done.details, 'End reason: StopEgress API');
    assert.ok(done.endedAt > active.startedAt);
    const [file] = done.fileResults;
    assert.ok(file, 'file result');
    assert.equal(done.result.case, 'file');
    assert.match(file.filename, /^web\/\d{4}-\d{2}-\d{2}T\d{6}-test\.mp4$/);
    assert.ok(isAbsolute(file.location) && file.location.startsWith(service.recordingsDir), file.location);
    assert.ok(existsSync(file.location));
    assert.equal(BigInt(statSync(file.location).size), file.size);
    const recordedSec = Number(file.duration) / 1e9;
    assert.ok(Math.abs(recordedSec - (stoppedAt - activeSeenAt) / 1000) < 1.5, `FileInfo duration ${recordedSec}s vs wall clock`);

    // The manifest beside the file, with LiveKit's keys.
    assert.equal(done.manifestLocation, join(dirname(file.location), `${started.egressId}.json`));
    const manifest = JSON.parse(readFileSync(done.manifestLocation, 'utf8')) as Record<string, unknown>;
    assert.equal(manifest.egress_id, started.egressId);
    assert.equal(manifest.url, page.url);
    assert.deepEqual(manifest.files, [{ filename: file.filename, location: file.location }]);

    const media = await probe(file.location);
    const video = media.streams.find((s) => s.codec_type === 'video');
    const audio = media.streams.find((s) => s.codec_type === 'audio');
    assert.equal(video?.codec_name, 'h264');
    assert.equal(video?.width, 1280);
    assert.equal(video?.height, 720);
    assert.ok(Math.abs((video?.avg_frame_rate ?? 0) - 30) < 1.5, `fps ${video?.avg_frame_rate}`);
    assert.equal(audio?.codec_name, 'aac');
    // FileInfo.duration is the file's own (what ffprobe reads), not the wall-clock time of the recording.
    assert.ok(Math.abs(media.format.duration - recordedSec) <= 0.05, `ffprobe ${media.format.duration}s vs FileInfo ${recordedSec}s`);

    // Webhooks: started, updated (ACTIVE), updated (ENDING), ended — all accepted by WebhookReceiver.
    const deadline = Date.now() + 10_000;
    const mine = () => hooks.events.filter((e) => e.egressInfo?.egressId === started.egressId);
    while (!mine().some((e) => e.event === 'egress_ended') && Date.now() < deadline) await sleep(100);
    assert.deepEqual(hooks.rejected, []);
    const names = mine().map((e) => e.event);
    assert.ok(names.includes('egress_started') && names.includes('egress_updated') && names.includes('egress_ended'), names.join(','));
    assert.equal(mine().find((e) => e.event === 'egress_ended')?.egressInfo?.status, EgressStatus.EGRESS_COMPLETE);
  });

  test('Web/AudioOnly: an OGG with Opus and no video', async () => {
    const output = new EncodedFileOutput({ fileType: EncodedFileType.DEFAULT_FILETYPE, filepath: 'audio/', disableManifest: true });
    const started = await client.startWebEgress(page.url, output, { audioOnly: true });
    await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE]);
    await sleep(3000);
    await client.stopEgress(started.egressId);
    const done = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 60_000);
    assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
    const media = await probe(done.fileResults[0]!.location);
    assert.ok(done.fileResults[0]!.filename.endsWith('.ogg'));
    assert.deepEqual(
      media.streams.map((s) => s.codec_name),
      ['opus'],
    );
    assert.equal(done.manifestLocation, '');
  });

  test('Web/AudioOnlyMp3: an MP3 file, audio only', async () => {
    const started = await client.startWebEgress(page.url, new EncodedFileOutput({ fileType: EncodedFileType.MP3, filepath: 'audio/speech' }), {
      audioOnly: true,
    });
    await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE]);
    await sleep(3000);
    await client.stopEgress(started.egressId);
    const done = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 60_000);
    assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
    assert.equal(done.fileResults[0]!.filename, 'audio/speech.mp3');
    const media = await probe(done.fileResults[0]!.location);
    assert.deepEqual(
      media.streams.map((s) => s.codec_name),
      ['mp3'],
    );
  });

  test('Web/StopBeforeStart: a page that never signals, stopped while waiting → ABORTED', async () => {
    const started = await client.startWebEgress(page.url, new EncodedFileOutput({ filepath: 'never.mp4' }), { awaitStartSignal: true });
    await sleep(1500);
    await client.stopEgress(started.egressId);
    const done = await waitForStatus(
      client,
      started.egressId,
      [EgressStatus.EGRESS_ABORTED, EgressStatus.EGRESS_FAILED, EgressStatus.EGRESS_COMPLETE],
      20_000,
    );
    assert.equal(done.status, EgressStatus.EGRESS_ABORTED);
    assert.equal(done.error, 'Stop called before pipeline could start');
    assert.deepEqual(await processesMentioning(started.egressId), []);
  });

  test('Web/StartSignalTimeout: no START_RECORDING within start_signal_timeout → ABORTED "Start signal not received"', async () => {
    const started = await client.startWebEgress(page.url, new EncodedFileOutput({ filepath: 'nosignal.mp4' }), { awaitStartSignal: true });
    const done = await waitForStatus(
      client,
      started.egressId,
      [EgressStatus.EGRESS_ABORTED, EgressStatus.EGRESS_FAILED, EgressStatus.EGRESS_COMPLETE],
      30_000,
    );
    assert.equal(done.status, EgressStatus.EGRESS_ABORTED);
    assert.equal(done.error, 'Start signal not received');
  });

  test('Web/ChromiumKilled: the browser dies mid-recording → FAILED with a reason, no process left behind', async () => {
    const started = await client.startWebEgress(page.url, new EncodedFileOutput({ filepath: 'crash.mp4' }));
    await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE]);
    await sleep(1000);
    const browser = (await processesMentioning(started.egressId)).find((p) => p.cmdline.includes('chromium') && !p.cmdline.includes('--type='));
    assert.ok(browser, 'the Chromium browser process of this egress');
    process.kill(browser.pid, 'SIGKILL');
    const done = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_FAILED, EgressStatus.EGRESS_COMPLETE], 30_000);
    assert.equal(done.status, EgressStatus.EGRESS_FAILED);
    assert.match(done.error, /chrom/i);
    assert.equal(done.errorCode, 500);
    await sleep(500);
    assert.deepEqual(await processesMentioning(started.egressId), []);
  });

  test('Web/MaxDuration: X-Egress-Max-Duration ends it LIMIT_REACHED, the file finalized and playable', async () => {
    const at = new AccessToken(E2E_API_KEY, E2E_API_SECRET, { identity: 'e2e' });
    at.addGrant({ roomRecord: true });
    const body = new WebEgressRequest({ url: page.url, fileOutputs: [new EncodedFileOutput({ filepath: 'limited.mp4' })] }).toJsonString();
    const res = await fetch(`${service.url}/twirp/livekit.Egress/StartWebEgress`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await at.toJwt()}`, 'content-type': 'application/json', 'x-egress-max-duration': '4' },
      body,
    });
    assert.equal(res.status, 200);
    const { egress_id: egressId } = (await res.json()) as { egress_id: string };
    const done = await waitForStatus(
      client,
      egressId,
      [EgressStatus.EGRESS_LIMIT_REACHED, EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED],
      40_000,
    );
    assert.equal(done.status, EgressStatus.EGRESS_LIMIT_REACHED, done.error);
    assert.equal(done.errorCode, 413);
    const media = await probe(done.fileResults[0]!.location);
    assert.ok(Math.abs(media.format.duration - 4) < 1, `${media.format.duration} s recorded, limit 4 s`);
    const reportedSec = Number(done.fileResults[0]!.duration) / 1e9;
    assert.ok(Math.abs(media.format.duration - reportedSec) <= 0.05, `ffprobe ${media.format.duration}s vs FileInfo ${reportedSec}s`);
  });

  test('Track/NoLiveKit: a track egress on a service without ws_url ends FAILED with a clear error', async () => {
    const started = await client.startTrackEgress('room', new DirectFileOutput({ filepath: 't.mp4' }), 'TR_x');
    const done = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_FAILED, EgressStatus.EGRESS_ABORTED], 20_000);
    assert.equal(done.status, EgressStatus.EGRESS_FAILED);
    assert.match(done.error, /recording a room needs ws_url/);
  });
});

describe('queueing', { concurrency: false }, () => {
  let service: TestService;
  let client: EgressClient;
  before(async () => {
    // No room-composite worker: requests wait in their queue.
    service = await startService({ pools: ['upload', 'webhook'], start_deadline: 2 });
    client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
  });
  after(() => service?.stop());

  test('Queue/StopWhileQueued → ABORTED at once, taken out of the queue', async () => {
    const started = await client.startWebEgress('http://127.0.0.1:9/', new EncodedFileOutput({ filepath: 'q.mp4' }));
    const stopped = await client.stopEgress(started.egressId);
    assert.equal(stopped.status, EgressStatus.EGRESS_ABORTED);
    assert.equal(stopped.error, 'Stop called before pipeline could start');
    assert.equal(await service.workers.ctx.queues.get('room-composite').getJob(started.egressId), undefined);
    await assert.rejects(client.stopEgress(started.egressId), /cannot be stopped/);
  });

  test('Queue/StartDeadline: nobody free to start it → ABORTED with a reason that says so', async () => {
    const started = await client.startWebEgress('http://127.0.0.1:9/', new EncodedFileOutput({ filepath: 'q.mp4' }));
    const done = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ABORTED], 15_000);
    assert.match(done.error, /no room-composite worker was free to start this egress within 2 s/);
    assert.equal(done.errorCode, 503);
  });
});
