/**
 * The outputs across a takeover (issue 16, item 3), on real parts: a web egress with file + HLS + RTMP +
 * images recorded by a worker process that is cut as a lost node is (SIGKILL to it and everything it started,
 * nothing finalized), then part 2 recorded through the same session code with `takeover: { part: 2 }`, the
 * page's colour changed in between. Checked on what was delivered: one MP4 that plays end to end, part 1's
 * frames first and part 2's last, its duration the recorded time without the gap; one playlist with a single
 * `#EXT-X-DISCONTINUITY` and segment numbers that go on; the RTMP server receiving each live URL again (as
 * UpdateStream left them); images numbered on; the manifest listing the gap.
 */
import { EgressStatus, EncodedFileOutput, ImageFileSuffix, ImageOutput, SegmentedFileOutput, StreamOutput, StreamProtocol } from '@livekit/protocol';
import { EgressClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { RECORD_QUEUES } from '../../../shared/queues.ts';
import { partLogOf } from '../../../shared/takeover/part-log.ts';
import { endLostEgress } from '../../../shared/worker-lost.ts';
import { LIVE_WINDOW } from '../../../workers/outputs/hls-playlist.ts';
import { runRecording } from '../../../workers/recording/session.ts';
import { spawnSupervised } from '../../../workers/process/processes.ts';
import { killAll, processesOfEgress } from '../../support/egress-processes.ts';
import { waitForFileLocation, waitForStatus } from '../../support/egress-waits.ts';
import { decodeFrameAt, probe } from '../../support/ffprobe.ts';
import { readManifest } from '../../support/manifest-file.ts';
import { startRtmpServer, type RtmpServer } from '../../support/rtmp-server.ts';
import { E2E_API_KEY, E2E_API_SECRET, startService, type TestService } from '../../support/service.ts';
import { startTestPage, type Rgb, type TestPage } from '../../support/test-page.ts';
import { waitFor } from '../../support/wait-for.ts';

const REPO = new URL('../../../', import.meta.url).pathname;
const PART_1_COLOUR: Rgb = { r: 200, g: 40, b: 40 };
const PART_2_COLOUR: Rgb = { r: 40, g: 170, b: 60 };
const RECORD_SEC = 10;
/** Part 2 records long enough for the live playlist's window to slide past its discontinuity. */
const PART_2_SEC = 14;
const GAP_SEC = 4;

/** A lost node: the worker and every process it started die at once. Returns when the kill was. */
async function killPart(child: ChildProcess, egressId: string): Promise<number> {
  const recorders = await processesOfEgress(egressId);
  assert.ok(recorders.length >= 2, 'ffmpeg and Chromium run for the part');
  child.kill('SIGKILL');
  killAll(recorders);
  const killedAtMs = Date.now();
  await waitFor('the part’s processes gone', 5000, async () => (await processesOfEgress(egressId)).length === 0);
  return killedAtMs;
}

/** Which of the two part colours a frame's background (above the moving block) shows. */
async function partColourAt(path: string, atSec: number): Promise<string> {
  const frame = await decodeFrameAt(path, atSec);
  const { r, g, b } = frame.pixel(Math.round(frame.width / 2), Math.round(frame.height * 0.15));
  const distance = (c: Rgb) => (c.r - r) ** 2 + (c.g - g) ** 2 + (c.b - b) ** 2;
  if (distance(PART_1_COLOUR) < 60 ** 2) return 'part 1';
  if (distance(PART_2_COLOUR) < 60 ** 2) return 'part 2';
  return `neither (${r},${g},${b})`;
}

/** A part in a worker process of its own (part 1 unless `takeover`); resolves once it is recording. */
async function spawnPart(service: TestService, egressId: string, takeover?: { part: number; lostAtMs: number }): Promise<ChildProcess> {
  const args = takeover ? [String(takeover.part), String(takeover.lostAtMs)] : [];
  const child = spawnSupervised('recording-part', process.execPath, ['test/support/recording-part-child.ts', egressId, ...args], {
    cwd: REPO,
    env: { ...process.env, ...service.env },
    stdio: ['ignore', 'pipe', 'inherit'],
  }).child;
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    lines.on('line', (line) => line.includes('"recording"') && resolve());
    child.once('exit', (code) => reject(new Error(`the part exited with ${code}`)));
  });
  return child;
}

describe('outputs across a takeover', { concurrency: false }, () => {
  let service: TestService;
  let page: TestPage;
  let rtmp: RtmpServer;
  let client: EgressClient;
  let part1: ChildProcess | undefined;
  let part2: ChildProcess | undefined;

  before(async () => {
    page = await startTestPage();
    rtmp = await startRtmpServer();
    // The API and the upload pool here; no record pool: the parts are run by the test.
    service = await startService({ pools: ['upload', 'webhook'] });
    client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
  });
  after(async () => {
    for (const child of [part1, part2]) if (child?.exitCode === null) child.kill('SIGKILL');
    await service?.stop();
    await rtmp?.stop();
    await page?.close();
  });

  test('file + HLS + RTMP + images: part 1 killed, part 2 taken over; one file, one playlist, streams resumed, images numbered on', async (t) => {
    page.setColour(PART_1_COLOUR);
    const started = await client.startWebEgress(page.url, {
      file: new EncodedFileOutput({ filepath: 'takeover/{room_name}-rec.mp4' }),
      segments: new SegmentedFileOutput({
        filenamePrefix: 'takeover/hls/seg',
        playlistName: 'index.m3u8',
        livePlaylistName: 'live.m3u8',
        segmentDuration: 2,
      }),
      stream: new StreamOutput({ protocol: StreamProtocol.RTMP, urls: [rtmp.url('good-keep'), rtmp.url('good-gone')] }),
      images: new ImageOutput({
        captureInterval: 2,
        width: 320,
        height: 180,
        filenamePrefix: 'takeover/thumbs/t',
        filenameSuffix: ImageFileSuffix.IMAGE_SUFFIX_INDEX,
      }),
    });
    const { egressId } = started;
    part1 = await spawnPart(service, egressId);
    await waitForStatus(client, egressId, [EgressStatus.EGRESS_ACTIVE], 60_000);
    // UpdateStream while part 1 records: what part 2 must resume is what it left.
    await sleep(3000);
    await client.updateStream(egressId, [rtmp.url('good-added')], [rtmp.url('good-gone')]);
    await sleep((RECORD_SEC - 3) * 1000);

    // The node is lost: the worker and everything it started die at once; nothing is finalized.
    const lostAtMs = await killPart(part1, egressId);
    const segmentsBefore = await service.workers.ctx.segments.count(egressId);
    await sleep(GAP_SEC * 1000);

    // Part 2, on "another worker": the same session code, taking over.
    page.setColour(PART_2_COLOUR);
    const ctx = service.workers.ctx;
    const jobs = await Promise.all(RECORD_QUEUES.map((queue) => ctx.queues.get(queue).getJob(egressId)));
    const plan = jobs.find((job) => job !== undefined)!.data.plan;
    const log = pino({ level: 'warn' }).child({ egressId, part: 2 });
    const second = runRecording(ctx, plan, log, { takeover: { part: 2, lostAtMs } });
    await waitFor('part 2’s first frame', 30_000, async () => (await partLogOf(ctx).list(egressId)).some((p) => p.part === 2));
    const [resumed] = await client.listEgress({ egressId });
    assert.equal(resumed?.status, EgressStatus.EGRESS_ACTIVE, 'ACTIVE across the gap');
    await sleep(PART_2_SEC * 1000);
    const stoppedAtMs = Date.now();
    await client.stopEgress(egressId);
    assert.equal(await second, 'recorded');
    const done = await waitForStatus(client, egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 90_000);
    assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
    const parts = await partLogOf(ctx).list(egressId);
    assert.deepEqual(
      parts.map((p) => p.part),
      [1, 2],
    );

    // One file: part 1's frames, then part 2's; its duration what was recorded, the gap left out.
    assert.equal(done.fileResults.length, 1);
    const file = done.fileResults[0]!;
    const mp4 = await probe(file.location);
    // Recorded: part 1 from its first frame to the kill, part 2 from its first frame to the stop.
    const recordedSec = (lostAtMs - parts[0]!.startedAtMs + stoppedAtMs - parts[1]!.startedAtMs) / 1000;
    const spanSec = (stoppedAtMs - parts[0]!.startedAtMs) / 1000;
    t.diagnostic(
      `file ${mp4.format.duration.toFixed(2)} s (${(Number(file.duration) / 1e9).toFixed(2)} s reported); recorded ${recordedSec.toFixed(2)} s over ${spanSec.toFixed(1)} s`,
    );
    assert.deepEqual(mp4.streams.map((s) => s.codec_name).sort(), ['aac', 'h264']);
    assert.ok(Math.abs(Number(file.duration) / 1e9 - mp4.format.duration) < 0.5, 'FileInfo.duration is the file');
    // Part 1 loses what the kill cut (its last fragment, under a second).
    assert.ok(Math.abs(mp4.format.duration - recordedSec) < 2, `${mp4.format.duration} s of ${recordedSec} s recorded`);
    assert.ok(mp4.format.duration < spanSec - GAP_SEC + 1, 'the gap is not in the file');
    assert.equal(await partColourAt(file.location, 0.5), 'part 1');
    assert.equal(await partColourAt(file.location, mp4.format.duration - 1), 'part 2');
    // It plays end to end: every frame decodes.
    const counted = await probe(file.location, { countFrames: true });
    const frames = Number(counted.streams.find((s) => s.codec_type === 'video')?.nb_frames ?? 0);
    assert.ok(Math.abs(frames / 30 - mp4.format.duration) < 1, `${frames} frames for ${mp4.format.duration} s`);

    // One playlist: one discontinuity where part 2 begins, segment numbers going on, every listed segment there.
    const playlist = await readFile(done.segmentResults[0]!.playlistLocation, 'utf8');
    assert.equal(playlist.match(/#EXT-X-DISCONTINUITY\n/g)?.length, 1, playlist);
    const names = playlist.split('\n').filter((line) => line.endsWith('.ts'));
    assert.deepEqual(
      names.map((name) => Number(/_(\d+)\.ts$/.exec(name)?.[1])),
      names.map((_, i) => i),
    );
    assert.equal(new Set(names).size, names.length);
    const afterDiscontinuity = playlist
      .split('#EXT-X-DISCONTINUITY\n')[1]!
      .split('\n')
      .find((line) => line.endsWith('.ts'));
    assert.equal(afterDiscontinuity, names[segmentsBefore], 'the discontinuity comes before part 2’s first segment');
    const playlistDir = dirname(done.segmentResults[0]!.playlistLocation);
    for (const name of names) assert.ok(existsSync(join(playlistDir, name)), `${name} delivered`);
    const live = await readFile(done.segmentResults[0]!.livePlaylistLocation, 'utf8');
    if (names.length - segmentsBefore > LIVE_WINDOW) {
      assert.match(live, /#EXT-X-DISCONTINUITY-SEQUENCE:1\n/, 'the live window slid past the discontinuity');
      assert.doesNotMatch(live, /#EXT-X-DISCONTINUITY\n/);
    } else assert.match(live, /#EXT-X-DISCONTINUITY\n/, 'the discontinuity still in the live window');
    const hls = await probe(done.segmentResults[0]!.playlistLocation);
    t.diagnostic(`${names.length} segments, ${segmentsBefore} from part 1; HLS ${hls.format.duration.toFixed(1)} s`);

    // Streams: each live URL published again by part 2, as UpdateStream left them; the removed one not.
    const received = (await rtmp.recordings()).map((path) => basename(path));
    const publishes = (key: string) => received.filter((name) => name.startsWith(`${key}-`));
    t.diagnostic(`RTMP server recordings: ${received.join(', ')}`);
    assert.equal(publishes('good-keep').length, 2, 'the stream resumed on the same key');
    assert.equal(publishes('good-added').length, 2, 'the URL added by UpdateStream resumed too');
    assert.equal(publishes('good-gone').length, 1, 'the URL removed by UpdateStream stayed removed');
    // StreamInfo in request order (good-keep, good-gone, then good-added): a resumed stream keeps part 1's start.
    const [keep, gone, added] = done.streamResults;
    for (const [name, stream] of [
      ['good-keep', keep],
      ['good-added', added],
    ] as const) {
      const startedAtMs = Number(stream!.startedAt / 1_000_000n);
      assert.ok(startedAtMs > 0 && startedAtMs < lostAtMs, `${name} started ${startedAtMs - lostAtMs} ms from the loss: part 1's start`);
      assert.equal(stream!.duration, stream!.endedAt - stream!.startedAt, `${name}: its duration spans both parts`);
    }
    assert.ok(gone!.endedAt > 0n && Number(gone!.endedAt / 1_000_000n) < lostAtMs, 'good-gone ended in part 1');
    for (const path of await rtmp.recordings()) {
      if (!basename(path).startsWith('good-keep-')) continue;
      const flv = await probe(path);
      assert.ok(flv.format.duration > 3, `${basename(path)}: ${flv.format.duration} s`);
    }

    // Images numbered on, never twice.
    const thumbs = (await readdir(join(service.recordingsDir, 'takeover/thumbs'))).filter((name) => name.endsWith('.jpeg')).sort();
    assert.deepEqual(
      thumbs.map((name) => Number(/_(\d+)\.jpeg$/.exec(name)?.[1])),
      thumbs.map((_, i) => i),
    );
    assert.equal(Number(done.imageResults[0]!.imageCount), thumbs.length);
    assert.ok(thumbs.length >= (RECORD_SEC + PART_2_SEC) / 2 - 3, `${thumbs.length} images`);

    // The manifest lists the parts and the gap.
    const manifest = await readManifest(done.manifestLocation);
    assert.equal(manifest.parts?.length, 2);
    assert.equal(manifest.gaps?.length, 1);
    const gap = manifest.gaps[0]!;
    t.diagnostic(`gap ${gap.seconds.toFixed(2)} s`);
    assert.ok(gap.seconds >= GAP_SEC - 1 && gap.seconds < GAP_SEC + 20, `gap ${gap.seconds} s`);
    assert.equal(gap.to, manifest.parts[1]!.started_at);
    assert.deepEqual(await processesOfEgress(egressId), []);
  });

  test('nobody takes over the last part in time: FAILED, and the salvage delivers every part joined', async (t) => {
    page.setColour(PART_1_COLOUR);
    const started = await client.startWebEgress(page.url, new EncodedFileOutput({ filepath: 'salvage/{room_name}-rec.mp4' }));
    const { egressId } = started;
    part1 = await spawnPart(service, egressId);
    await waitForStatus(client, egressId, [EgressStatus.EGRESS_ACTIVE], 60_000);
    await sleep(6000);
    const lostAtMs = await killPart(part1, egressId);
    page.setColour(PART_2_COLOUR);
    part2 = await spawnPart(service, egressId, { part: 2, lostAtMs });
    await waitFor('part 2’s first frame', 30_000, async () => (await partLogOf(service.workers.ctx).list(egressId)).some((p) => p.part === 2));
    await sleep(6000);
    await killPart(part2, egressId);

    // What the reaper does when no worker takes over before the start deadline.
    const ctx = service.workers.ctx;
    const jobs = await Promise.all(RECORD_QUEUES.map((queue) => ctx.queues.get(queue).getJob(egressId)));
    await endLostEgress(ctx, jobs.find((job) => job !== undefined)!.data.plan, 'test: nobody took over');
    const salvaged = await waitForFileLocation(client, egressId, 60_000);
    assert.equal(salvaged.status, EgressStatus.EGRESS_FAILED);
    assert.equal(salvaged.fileResults.length, 1, 'one file');
    const file = salvaged.fileResults[0]!;
    const mp4 = await probe(file.location);
    const parts = await partLogOf(ctx).list(egressId);
    const seenSec = parts.reduce((sum, p) => sum + (p.lastSeenAtMs - p.startedAtMs) / 1000, 0);
    t.diagnostic(`salvaged ${mp4.format.duration.toFixed(2)} s from ${parts.length} parts seen recording for ${seenSec.toFixed(1)} s`);
    assert.equal(parts.length, 2);
    assert.ok(mp4.format.duration > seenSec - 2 && mp4.format.duration < seenSec + 8, `${mp4.format.duration} s`);
    assert.equal(await partColourAt(file.location, 0.5), 'part 1');
    assert.equal(await partColourAt(file.location, mp4.format.duration - 1), 'part 2');
    assert.ok(Math.abs(Number(file.duration) / 1e9 - mp4.format.duration) < 0.5);
  });
});
