/**
 * Every output kind through the whole service, as a LiveKit user asks for them: file + HLS + RTMP +
 * images from one web egress; UpdateStream adding and removing URLs while live. Checked on what was
 * produced: ffprobe, segment counts, JPEG sizes and names, what the RTMP server really received; and
 * session_limits.file_output_max_size ending an egress with its file delivered.
 */
import {
  EgressInfo,
  EgressStatus,
  EncodedFileOutput,
  ImageOutput,
  ImageFileSuffix,
  SegmentedFileOutput,
  StreamInfo_Status,
  StreamOutput,
  StreamProtocol,
} from '@livekit/protocol';
import { EgressClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { redactStreamUrl } from '../../shared/redact.ts';
import { waitForStatus } from '../support/egress-waits.ts';
import { probe } from '../support/ffprobe.ts';
import { startRtmpServer, type RtmpServer } from '../support/rtmp-server.ts';
import { E2E_API_KEY, E2E_API_SECRET, startService, type TestService } from '../support/service.ts';
import { startTestPage } from '../support/test-page.ts';
import { twirpCall } from '../support/twirp-call.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('outputs', { concurrency: false }, () => {
  let service: TestService;
  let rtmp: RtmpServer;
  let page: Awaited<ReturnType<typeof startTestPage>>;
  let client: EgressClient;

  before(async () => {
    rtmp = await startRtmpServer();
    page = await startTestPage();
    service = await startService();
    client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
  });
  after(async () => {
    await service?.stop();
    await page?.close();
    await rtmp?.stop();
  });

  test('Multi/FileSegmentsStreamImages: one capture, every output, all delivered', async () => {
    const started = await client.startWebEgress(page.url, {
      file: new EncodedFileOutput({ filepath: 'multi/{time}.mp4' }),
      segments: new SegmentedFileOutput({
        filenamePrefix: 'multi/hls/seg',
        playlistName: 'index.m3u8',
        livePlaylistName: 'live.m3u8',
        segmentDuration: 2,
      }),
      stream: new StreamOutput({ protocol: StreamProtocol.RTMP, urls: [rtmp.url('good-multi')] }),
      images: new ImageOutput({
        captureInterval: 2,
        width: 320,
        height: 180,
        filenamePrefix: 'multi/thumbs/t',
        filenameSuffix: ImageFileSuffix.IMAGE_SUFFIX_INDEX,
      }),
    });
    await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE]);
    await sleep(9000);
    const [live] = await client.listEgress({ egressId: started.egressId });
    assert.ok(Number(live!.segmentResults[0]?.segmentCount ?? 0) >= 2, 'SegmentsInfo kept current while recording');
    assert.equal(live!.streamResults[0]?.status, StreamInfo_Status.ACTIVE);
    await client.stopEgress(started.egressId);
    const done = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 60_000);
    assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);

    const file = done.fileResults[0]!;
    const fileSec = Number(file.duration) / 1e9;
    const mp4 = await probe(file.location);
    assert.ok(Math.abs(mp4.format.duration - fileSec) < 1, `mp4 ${mp4.format.duration} s vs ${fileSec} s`);

    const segments = done.segmentResults[0]!;
    const playlist = readFileSync(segments.playlistLocation, 'utf8');
    assert.match(playlist, /#EXT-X-PLAYLIST-TYPE:EVENT/);
    assert.match(playlist, /#EXT-X-PROGRAM-DATE-TIME:/);
    assert.ok(playlist.trimEnd().endsWith('#EXT-X-ENDLIST'));
    const count = Number(segments.segmentCount);
    assert.ok(Math.abs(count - fileSec / 2) <= 1.5, `${count} segments of 2 s for ${fileSec} s`);
    assert.equal((playlist.match(/#EXTINF/g) ?? []).length, count);
    const hls = await probe(segments.playlistLocation);
    assert.ok(Math.abs(hls.format.duration - fileSec) < 1, `HLS ${hls.format.duration} s vs ${fileSec} s`);
    assert.deepEqual(hls.streams.map((s) => s.codec_name).sort(), ['aac', 'h264']);
    assert.ok(readFileSync(segments.livePlaylistLocation, 'utf8').includes('#EXT-X-MEDIA-SEQUENCE:'));

    const images = done.imageResults[0]!;
    const thumbs = readdirSync(join(service.recordingsDir, 'multi/thumbs')).filter((n) => n.endsWith('.jpeg'));
    assert.equal(thumbs.length, Number(images.imageCount));
    assert.ok(Math.abs(thumbs.length - fileSec / 2) <= 1.5, `${thumbs.length} images every 2 s for ${fileSec} s`);
    const jpeg = await probe(join(service.recordingsDir, 'multi/thumbs', thumbs[0]!));
    assert.equal(jpeg.streams[0]?.width, 320);
    assert.equal(jpeg.streams[0]?.height, 180);

    const stream = done.streamResults[0]!;
    assert.equal(stream.status, StreamInfo_Status.FINISHED);
    assert.ok(stream.url.includes('{') && !stream.url.includes('good-multi'), `redacted: ${stream.url}`);
    const [received] = await rtmp.recordings();
    assert.ok(received && basename(received).startsWith('good-multi'), 'the RTMP server received the stream');
    const flv = await probe(received);
    assert.ok(flv.format.duration > fileSec - 3, `RTMP ${flv.format.duration} s of ${fileSec} s`);

    const manifest = JSON.parse(readFileSync(done.manifestLocation, 'utf8')) as {
      files: unknown[];
      playlists: { segments: unknown[] }[];
      images: unknown[];
    };
    assert.equal(dirname(done.manifestLocation), dirname(file.location));
    assert.equal(manifest.files.length, 1);
    assert.equal(manifest.playlists[0]?.segments.length, count);
    assert.equal(manifest.images.length, thumbs.length);
  });

  test('UpdateStream: good + bad at start, add good + bad, remove the first; each StreamInfo right', async () => {
    const first = rtmp.url('good-first');
    const started = await client.startWebEgress(page.url, new StreamOutput({ protocol: StreamProtocol.RTMP, urls: [first, rtmp.url('bad-first')] }));
    await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE]);
    await sleep(4000);
    await client.updateStream(started.egressId, [rtmp.url('good-second'), rtmp.url('bad-second')]);
    await sleep(4000);
    const afterRemove = await client.updateStream(started.egressId, [], [first]);
    assert.equal(afterRemove.streamResults.find((s) => s.url.includes('rtmp') && s.status === StreamInfo_Status.FINISHED) !== undefined, true);
    await sleep(3000);
    const [live] = await client.listEgress({ egressId: started.egressId });
    const byKey = (key: string) => live!.streamResults.find((s) => s.url === redactStreamUrl(rtmp.url(key)));
    assert.equal(live!.status, EgressStatus.EGRESS_ACTIVE);
    assert.equal(live!.streamResults.length, 4);
    assert.equal(byKey('good-first')?.status, StreamInfo_Status.FINISHED);
    assert.ok(Number(byKey('good-first')!.duration) / 1e9 > 6, 'the first ran until removed');
    assert.equal(byKey('bad-first')?.status, StreamInfo_Status.FAILED);
    assert.equal(byKey('good-second')?.status, StreamInfo_Status.ACTIVE);
    assert.equal(byKey('bad-second')?.status, StreamInfo_Status.FAILED);
    assert.ok(byKey('bad-second')!.error.length > 0);

    // Removing the last stream of a stream-only egress ends it: "All streams stopped".
    await client.updateStream(started.egressId, [], [rtmp.url('good-second')]);
    const done = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 30_000);
    assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
    assert.equal(done.details, 'End reason: All streams stopped');
    const received = (await rtmp.recordings()).map((p) => basename(p));
    assert.ok(received.some((n) => n.startsWith('good-first')) && received.some((n) => n.startsWith('good-second')), received.join(','));
  });

  test('Stream/AllFailed: a stream-only egress whose every URL fails ends FAILED with the reason', async () => {
    const started = await client.startWebEgress(page.url, new StreamOutput({ protocol: StreamProtocol.RTMP, urls: [rtmp.url('bad-only')] }));
    const done = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_FAILED, EgressStatus.EGRESS_COMPLETE], 40_000);
    assert.equal(done.status, EgressStatus.EGRESS_FAILED);
    assert.ok(done.error.includes(redactStreamUrl(rtmp.url('bad-only'))), done.error);
    assert.ok(!done.error.includes('bad-only'), 'the stream key is not in the error');
    assert.equal(done.streamResults[0]?.status, StreamInfo_Status.FAILED);
  });

  test('Images/Names: TIMESTAMP is <prefix>_<UTC YYYYMMDDHHMMSSmmm>.jpeg per capture, NONE_OVERWRITE one <prefix>.jpeg; all decode as JPEG', async () => {
    const key = { apiKey: E2E_API_KEY, apiSecret: E2E_API_SECRET };
    const image = { capture_interval: 1, width: 320, height: 180 };
    const start = await twirpCall(
      service.url,
      'StartEgress',
      {
        web: { url: page.url },
        outputs: [
          { images: { ...image, filename_prefix: 'names/ts/t', filename_suffix: 'IMAGE_SUFFIX_TIMESTAMP' } },
          { images: { ...image, filename_prefix: 'names/one/latest', filename_suffix: 'IMAGE_SUFFIX_NONE_OVERWRITE' } },
        ],
      },
      key,
    );
    assert.equal(start.status, 200, JSON.stringify(start.json));
    const { egressId } = EgressInfo.fromJson(start.json as never);
    await waitForStatus(client, egressId, [EgressStatus.EGRESS_ACTIVE]);
    const activeSeenAt = Date.now();
    await sleep(5000);
    await client.stopEgress(egressId);
    const stoppedAt = Date.now();
    const done = await waitForStatus(client, egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 60_000);
    assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
    const [timestamped, overwritten] = done.imageResults;
    assert.equal(timestamped?.filenamePrefix, 'names/ts/t');
    assert.equal(overwritten?.filenamePrefix, 'names/one/latest');

    const isJpeg = async (path: string) => {
      const bytes = readFileSync(path);
      assert.ok(
        bytes.subarray(0, 3).equals(Buffer.from([0xff, 0xd8, 0xff])) && bytes.subarray(-2).equals(Buffer.from([0xff, 0xd9])),
        `${path}: JPEG start and end markers`,
      );
      const jpeg = await probe(path);
      assert.equal(jpeg.streams[0]?.codec_name, 'mjpeg', path);
      assert.equal(jpeg.streams[0]?.width, 320);
      assert.equal(jpeg.streams[0]?.height, 180);
    };

    // The manifest goes beside the first images.
    const names = readdirSync(join(service.recordingsDir, 'names/ts'))
      .filter((name) => name !== `${egressId}.json`)
      .sort();
    assert.equal(done.manifestLocation, join(service.recordingsDir, 'names/ts', `${egressId}.json`));
    assert.equal(names.length, Number(timestamped.imageCount), names.join(','));
    assert.ok(names.length >= 3, `${names.length} captures of 1 s in 5 s`);
    const times = names.map((name) => {
      const m = /^t_(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{3})\.jpeg$/.exec(name);
      assert.ok(m, `TIMESTAMP name: ${name}`);
      const [year, month, day, hour, minute, second, ms] = m.slice(1).map(Number) as [number, number, number, number, number, number, number];
      return Date.UTC(year, month - 1, day, hour, minute, second, ms);
    });
    for (const [i, at] of times.entries()) {
      assert.ok(at >= activeSeenAt - 3000 && at <= stoppedAt + 1000, `${names[i]}: taken while recording (UTC)`);
      if (i > 0) assert.ok(Math.abs(at - times[i - 1]! - 1000) < 500, `${names[i - 1]} → ${names[i]}: one capture interval apart`);
    }
    for (const name of names) await isJpeg(join(service.recordingsDir, 'names/ts', name));

    assert.deepEqual(readdirSync(join(service.recordingsDir, 'names/one')), ['latest.jpeg']);
    assert.ok(Number(overwritten.imageCount) >= 3, `every capture went to latest.jpeg: ${overwritten.imageCount}`);
    await isJpeg(join(service.recordingsDir, 'names/one/latest.jpeg'));
  });
});

describe('session_limits.file_output_max_size', { concurrency: false }, () => {
  const LIMIT = 100_000;
  let service: TestService;
  let page: Awaited<ReturnType<typeof startTestPage>>;
  let client: EgressClient;

  before(async () => {
    page = await startTestPage();
    service = await startService({ session_limits: { file_output_max_size: LIMIT } });
    client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
  });
  after(async () => {
    await service?.stop();
    await page?.close();
  });

  test('MaxSize: past the limit at a size check (every 15 s) → LIMIT_REACHED 413 "Session limit reached", the file delivered and playable', async () => {
    const started = await client.startWebEgress(page.url, new EncodedFileOutput({ filepath: 'limited/size.mp4' }));
    const active = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE]);
    const done = await waitForStatus(
      client,
      started.egressId,
      [EgressStatus.EGRESS_LIMIT_REACHED, EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED],
      60_000,
    );
    assert.equal(done.status, EgressStatus.EGRESS_LIMIT_REACHED, done.error);
    assert.equal(done.errorCode, 413);
    assert.equal(done.error, 'Session limit reached');
    assert.equal(done.details, 'End reason: Session limit reached');
    // Ended at the first check past the limit: about 15 s after the first frame, not before.
    const ranSec = Number(done.endedAt - active.startedAt) / 1e9;
    assert.ok(ranSec >= 14 && ranSec < 40, `ran ${ranSec} s`);

    const file = done.fileResults[0]!;
    assert.equal(file.filename, 'limited/size.mp4');
    assert.equal(BigInt(statSync(file.location).size), file.size);
    assert.ok(file.size >= BigInt(LIMIT), `${file.size} bytes: the limit was passed`);
    const media = await probe(file.location);
    assert.equal(media.streams.find((s) => s.codec_type === 'video')?.codec_name, 'h264');
    assert.ok(
      Math.abs(media.format.duration - Number(file.duration) / 1e9) <= 0.05,
      `ffprobe ${media.format.duration} s vs FileInfo ${Number(file.duration) / 1e9} s`,
    );
    assert.ok(media.format.duration >= 13, `${media.format.duration} s recorded before the check`);
  });
});
