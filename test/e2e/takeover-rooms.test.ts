/**
 * Takeovers end to end on real parts (issue 16, item 4): a real LiveKit server, a real nginx-rtmp, a real
 * Redis and worker processes of their own. In each case worker A records, worker B waits; A is SIGKILLed
 * mid-recording, B takes over. The EgressInfo stays ACTIVE across the gap and its details name the takeover;
 * the figure measured is kill → B's recorder active (RPC-visible). Then StopEgress, and what was delivered is
 * checked:
 * - a web egress with file + HLS + RTMP: the RTMP server received a second publish on the same key (both
 *   playable), one MP4 that plays end to end (its duration the recorded time without the gap), one playlist
 *   with a single #EXT-X-DISCONTINUITY, segment numbers going on and every listed segment delivered;
 * - a room composite of a live room: one MP4 with both parts, COMPLETE;
 * - a track egress (file): one file after the takeover, playable, its duration the recorded time.
 * The API (with the reaper), the upload and webhook pools run here; the recorders in child worker processes.
 */
import {
  DirectFileOutput,
  EgressStatus,
  EncodedFileOutput,
  EncodedFileType,
  SegmentedFileOutput,
  StreamOutput,
  StreamProtocol,
  type EgressInfo,
} from '@livekit/protocol';
import { dispose } from '@livekit/rtc-node';
import { EgressClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { EgressLeases } from '../../shared/lease/egress-lease.ts';
import type { RecordQueueName } from '../../shared/queues.ts';
import { partLogOf } from '../../shared/takeover/part-log.ts';
import { waitForStatus } from '../support/egress-waits.ts';
import { decodeFrameAt, probe } from '../support/ffprobe.ts';
import { startLiveKitServer, type LiveKitServer } from '../support/livekit-server.ts';
import { startPublisher, type TestPublisher } from '../support/publisher.ts';
import { startRtmpServer, type RtmpServer } from '../support/rtmp-server.ts';
import { E2E_API_KEY, E2E_API_SECRET, startService, type TestService } from '../support/service.ts';
import { startTestPage, type TestPage } from '../support/test-page.ts';
import { waitFor } from '../support/wait-for.ts';
import { egressInfo, holderPid, RecordWorkers, watchActive } from '../support/takeover-harness.ts';

const run = promisify(execFile);
const RESUMED = /resumed by another worker after its recorder was lost \(1 takeover\)/;
/** Kill → resumed: the target is 15 s; asserted with room for a loaded 2-core machine. */
const ASSERTED_GAP_MS = 40_000;
/** How long each part records before the kill / the stop. */
const PART_1_SEC = 10;
const PART_2_SEC = 10;

describe('takeover: SIGKILL of the worker, real rooms and outputs', { concurrency: false }, () => {
  let livekit: LiveKitServer;
  let page: TestPage;
  let rtmp: RtmpServer;
  let service: TestService;
  let client: EgressClient;
  let leases: EgressLeases;
  let workers: RecordWorkers;
  const publishers: TestPublisher[] = [];

  before(async () => {
    livekit = await startLiveKitServer({ apiKey: E2E_API_KEY, apiSecret: E2E_API_SECRET });
    page = await startTestPage();
    rtmp = await startRtmpServer();
    service = await startService({ ws_url: livekit.url, pools: ['upload', 'webhook'] });
    workers = new RecordWorkers(service);
    client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
    leases = new EgressLeases(service.workers.ctx.redis, service.config.redis.prefix);
  });
  after(async () => {
    workers?.killAll();
    for (const publisher of publishers) await publisher.leave().catch(() => undefined);
    await dispose();
    await service?.stop();
    await rtmp?.stop();
    await page?.close();
    await livekit?.stop();
  });

  /**
   * The common course: A records `start()`'s egress for PART_1_SEC, B waits; A is SIGKILLed, B takes over
   * (ACTIVE throughout, details naming the takeover), records PART_2_SEC, then StopEgress → COMPLETE. Returns
   * the ended egress and the recorded time (part 1's first frame to the kill, part 2's first frame to the stop).
   */
  const killAndTakeOver = async (t: TestContext, what: string, pool: RecordQueueName, start: () => Promise<string>) => {
    const a = await workers.start(pool);
    const egressId = await start();
    await waitForStatus(client, egressId, [EgressStatus.EGRESS_ACTIVE], 90_000);
    assert.equal(await holderPid(leases, egressId), a.pid, "A holds the egress's lease");
    const b = await workers.start(pool);
    await waitFor('part 1 recording', 60_000, async () => (await partLogOf(service.workers.ctx).list(egressId)).some((p) => p.part === 1), 100);
    await sleep(PART_1_SEC * 1000);

    const watch = watchActive(client, egressId);
    const killedAtMs = Date.now();
    a.kill('SIGKILL');
    await waitFor(`${egressId} resumed`, 90_000, async () => RESUMED.test((await egressInfo(client, egressId)).details), 100);
    const gapMs = Date.now() - killedAtMs;
    t.diagnostic(`${what}: kill → B's recorder active (RPC-visible): ${(gapMs / 1000).toFixed(1)} s`);
    assert.ok(gapMs < ASSERTED_GAP_MS, `resumed ${gapMs} ms after the kill`);
    assert.equal(await holderPid(leases, egressId), b.pid, "B holds the egress's lease");

    await sleep(PART_2_SEC * 1000);
    assert.deepEqual(await watch.stop(), [], 'the egress stayed ACTIVE from the kill to B recording');
    const resumed = await egressInfo(client, egressId);
    assert.equal(resumed.status, EgressStatus.EGRESS_ACTIVE);
    assert.match(resumed.details, RESUMED);

    const stoppedAtMs = Date.now();
    await client.stopEgress(egressId);
    const ended = await waitForStatus(client, egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 120_000);
    assert.equal(ended.status, EgressStatus.EGRESS_COMPLETE, ended.error);
    const parts = await partLogOf(service.workers.ctx).list(egressId);
    assert.deepEqual(
      parts.map((p) => p.part),
      [1, 2],
    );
    const recordedSec = (killedAtMs - parts[0]!.startedAtMs + stoppedAtMs - parts[1]!.startedAtMs) / 1000;
    const spanSec = (stoppedAtMs - parts[0]!.startedAtMs) / 1000;
    const gapSec = (parts[1]!.startedAtMs - killedAtMs) / 1000;
    t.diagnostic(`${what}: recorded ${recordedSec.toFixed(2)} s over ${spanSec.toFixed(1)} s; kill → part 2's first frame ${gapSec.toFixed(1)} s`);
    await workers.kill(a);
    await workers.kill(b);
    return { egressId, ended, recordedSec, spanSec, gapSec };
  };

  /** One file, plays end to end (every frame decodes, one at the start and one at the end), duration ≈ recorded. */
  const checkJoinedFile = async (t: TestContext, ended: EgressInfo, recordedSec: number, spanSec: number, gapSec: number) => {
    assert.equal(ended.fileResults.length, 1, 'one file');
    const location = ended.fileResults[0]!.location;
    assert.ok(existsSync(location), location);
    const file = await probe(location);
    t.diagnostic(`file ${basename(location)}: ${file.format.duration.toFixed(2)} s of ${recordedSec.toFixed(2)} s recorded`);
    // Part 1 loses what the kill cut (its last fragment); each part's start may lag its first frame a little.
    assert.ok(Math.abs(file.format.duration - recordedSec) < 3, `${file.format.duration} s of ${recordedSec} s recorded`);
    assert.ok(file.format.duration < spanSec - gapSec + 1.5, 'the gap is not in the file');
    const { stderr } = await run('ffmpeg', ['-v', 'error', '-i', location, '-f', 'null', '-'], { maxBuffer: 16 * 1024 * 1024 });
    assert.equal(stderr.trim(), '', 'decodes end to end without errors');
    if (file.streams.some((s) => s.codec_type === 'video')) {
      await decodeFrameAt(location, 0.5);
      await decodeFrameAt(location, Math.max(0, file.format.duration - 1));
    }
    return file;
  };

  test('web egress, file + HLS + RTMP: A killed, B takes over; the stream republished, one MP4, one playlist', async (t) => {
    const { ended, recordedSec, spanSec, gapSec } = await killAndTakeOver(t, 'web', 'room-composite', async () => {
      const started = await client.startWebEgress(page.url, {
        file: new EncodedFileOutput({ filepath: 'takeover-rooms/web.mp4' }),
        segments: new SegmentedFileOutput({ filenamePrefix: 'takeover-rooms/hls/seg', playlistName: 'index.m3u8', segmentDuration: 2 }),
        stream: new StreamOutput({ protocol: StreamProtocol.RTMP, urls: [rtmp.url('good-takeover')] }),
      });
      return started.egressId;
    });
    const file = await checkJoinedFile(t, ended, recordedSec, spanSec, gapSec);
    assert.deepEqual(file.streams.map((s) => s.codec_name).sort(), ['aac', 'h264']);

    // One playlist: one discontinuity, segment numbers going on, unique, every listed segment delivered.
    const playlistLocation = ended.segmentResults[0]!.playlistLocation;
    const playlist = await readFile(playlistLocation, 'utf8');
    assert.equal(playlist.match(/#EXT-X-DISCONTINUITY\n/g)?.length, 1, playlist);
    const names = playlist.split('\n').filter((line) => line.endsWith('.ts'));
    assert.ok(names.length >= (PART_1_SEC + PART_2_SEC) / 2 - 3, `${names.length} segments`);
    assert.deepEqual(
      names.map((name) => Number(/_(\d+)\.ts$/.exec(name)?.[1])),
      names.map((_, i) => i),
    );
    assert.equal(new Set(names).size, names.length);
    for (const name of names) assert.ok(existsSync(join(dirname(playlistLocation), name)), `${name} delivered`);
    const [beforeGap = '', afterGap = ''] = playlist.split('#EXT-X-DISCONTINUITY\n');
    assert.ok(beforeGap.includes('.ts\n') && afterGap.includes('.ts\n'), 'segments of both parts, either side of the discontinuity');
    t.diagnostic(`HLS: ${names.length} segments, discontinuity before ${/#EXT-X-DISCONTINUITY\n(?:#[^\n]*\n)*([^\n]+\.ts)/.exec(playlist)?.[1]}`);

    // The RTMP server's own recordings: a second publish on the same key, both playable.
    const received = await rtmp.recordings();
    t.diagnostic(`RTMP server recordings: ${received.map((path) => basename(path)).join(', ')}`);
    const publishes = received.filter((path) => basename(path).startsWith('good-takeover-'));
    assert.equal(publishes.length, 2, 'the stream was published again on the same key');
    for (const path of publishes) {
      const flv = await probe(path);
      assert.ok(flv.format.duration > 3, `${basename(path)}: ${flv.format.duration} s`);
      assert.ok(
        flv.streams.some((s) => s.codec_type === 'video'),
        `${basename(path)} has video`,
      );
      const { stderr } = await run('ffmpeg', ['-v', 'error', '-i', path, '-f', 'null', '-'], { maxBuffer: 16 * 1024 * 1024 });
      assert.equal(stderr.trim(), '', `${basename(path)} decodes`);
    }
  });

  test('room composite of a live room: A killed, B takes over; one MP4 with both parts, COMPLETE', async (t) => {
    const room = 'takeover-composite';
    publishers.push(
      await startPublisher({
        url: livekit.url,
        apiKey: E2E_API_KEY,
        apiSecret: E2E_API_SECRET,
        room,
        identity: 'composite-pub',
        video: { codec: 'vp8', width: 640, height: 360, fps: 30 },
        audio: false,
      }),
    );
    const { ended, recordedSec, spanSec, gapSec } = await killAndTakeOver(t, 'room composite', 'room-composite', async () => {
      const started = await client.startRoomCompositeEgress(
        room,
        { file: new EncodedFileOutput({ fileType: EncodedFileType.MP4, filepath: 'takeover-rooms/{room_name}.mp4' }) },
        { layout: 'grid' },
      );
      return started.egressId;
    });
    const file = await checkJoinedFile(t, ended, recordedSec, spanSec, gapSec);
    assert.ok(
      file.streams.some((s) => s.codec_name === 'h264'),
      'H.264 video',
    );
  });

  test('track egress (file): A killed, B takes over; one playable file of the recorded time', async (t) => {
    const room = 'takeover-track';
    const publisher = await startPublisher({
      url: livekit.url,
      apiKey: E2E_API_KEY,
      apiSecret: E2E_API_SECRET,
      room,
      identity: 'track-pub',
      video: { codec: 'h264', width: 640, height: 360, fps: 30 },
      audio: false,
    });
    publishers.push(publisher);
    const trackId = publisher.trackSid('video')!;
    const { ended, recordedSec, spanSec, gapSec } = await killAndTakeOver(t, 'track', 'track', async () => {
      const started = await client.startTrackEgress(room, new DirectFileOutput({ filepath: 'takeover-rooms/{track_id}' }), trackId);
      return started.egressId;
    });
    const file = await checkJoinedFile(t, ended, recordedSec, spanSec, gapSec);
    assert.equal(file.streams.length, 1);
    assert.equal(file.streams[0]?.codec_name, 'h264');
  });
});
