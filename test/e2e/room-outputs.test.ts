/**
 * The output kinds of the earlier issues from the room-based requests, on a real LiveKit server (LiveKit's
 * own multi-output cases): participant egress to file + RTMP + HLS, track composite to RTMP + HLS without a
 * file, room composite to file + images. Each output is checked for what it holds: the recorded
 * participant's colour in a decoded frame of it, its length against the recording's, codecs, sizes.
 */
import {
  EgressStatus,
  EncodedFileOutput,
  ImageFileSuffix,
  ImageOutput,
  SegmentedFileOutput,
  StreamInfo_Status,
  StreamOutput,
  StreamProtocol,
  type EgressInfo,
} from '@livekit/protocol';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { waitForStatus } from '../support/egress-waits.ts';
import { decodeFrameAt, probe } from '../support/ffprobe.ts';
import { colourOver, dominantColour } from '../support/recording-checks.ts';
import { startRoomService, type RoomService } from '../support/room-service.ts';
import { startRtmpServer, type RtmpServer } from '../support/rtmp-server.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const RECORD_MS = 8000;
/** The publisher's flash: the whole frame white (dominantColour names no colour for it). */
const FLASH = /^none \(2[3-5]\d,2[3-5]\d,2[3-5]\d\)$/;

describe('room-based outputs', { concurrency: false }, () => {
  let rooms: RoomService;
  let rtmp: RtmpServer;

  before(async () => {
    rtmp = await startRtmpServer();
    rooms = await startRoomService();
  });
  after(async () => {
    await rooms?.stop();
    await rtmp?.stop();
  });

  /** Records RECORD_MS from ACTIVE, stops, and returns the ended EgressInfo (COMPLETE) and how long it recorded (as reported). */
  async function recordAndStop(egressId: string): Promise<{ done: EgressInfo; recordedSec: number }> {
    await waitForStatus(rooms.client, egressId, [EgressStatus.EGRESS_ACTIVE], 30_000);
    await sleep(RECORD_MS);
    await rooms.client.stopEgress(egressId);
    const done = await waitForStatus(rooms.client, egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 60_000);
    assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
    const recordedSec = Number(done.fileResults[0]?.duration ?? done.segmentResults[0]?.duration ?? 0n) / 1e9;
    assert.ok(recordedSec > RECORD_MS / 1000 - 1, `recorded ${recordedSec} s`);
    return { done, recordedSec };
  }

  /** The HLS playlist of the egress: EVENT, ended, its segments' count and length right, the colour shown. */
  async function checkHls(done: EgressInfo, recordedSec: number, colour: string): Promise<void> {
    const segments = done.segmentResults[0]!;
    const playlist = readFileSync(segments.playlistLocation, 'utf8');
    assert.match(playlist, /#EXT-X-PLAYLIST-TYPE:EVENT/);
    assert.ok(playlist.trimEnd().endsWith('#EXT-X-ENDLIST'));
    const count = Number(segments.segmentCount);
    assert.equal((playlist.match(/#EXTINF/g) ?? []).length, count);
    assert.ok(Math.abs(count - recordedSec / 2) <= 1.5, `${count} segments of 2 s for ${recordedSec.toFixed(1)} s`);
    const hls = await probe(segments.playlistLocation);
    assert.ok(Math.abs(hls.format.duration - recordedSec) < 1.5, `HLS ${hls.format.duration} s of ${recordedSec.toFixed(1)} s`);
    assert.deepEqual(hls.streams.map((s) => s.codec_name).sort(), ['aac', 'h264']);
    assert.equal(await colourOver(segments.playlistLocation, 3.3), colour, 'the HLS shows the recorded participant');
  }

  /** What the RTMP server received under `key`: long enough, the colour shown; the StreamInfo FINISHED. */
  async function checkRtmp(done: EgressInfo, key: string, recordedSec: number, colour: string): Promise<void> {
    assert.equal(done.streamResults[0]?.status, StreamInfo_Status.FINISHED);
    const received = (await rtmp.recordings()).find((path) => basename(path).startsWith(key));
    assert.ok(received, `the RTMP server received ${key}`);
    const flv = await probe(received);
    assert.ok(flv.format.duration > recordedSec - 3, `RTMP ${flv.format.duration} s of ${recordedSec.toFixed(1)} s`);
    assert.deepEqual(flv.streams.map((s) => s.codec_name).sort(), ['aac', 'h264']);
    assert.equal(await colourOver(received, 3.3), colour, 'the stream shows the recorded participant');
  }

  test('participant egress: file + RTMP + HLS from one encode, each showing the participant', async () => {
    const room = 'out-participant';
    await rooms.publish({ room, identity: 'pat', colourIndex: 3 });
    const started = await rooms.client.startParticipantEgress(room, 'pat', {
      file: new EncodedFileOutput({ filepath: 'out/participant.mp4' }),
      stream: new StreamOutput({ protocol: StreamProtocol.RTMP, urls: [rtmp.url('good-participant')] }),
      segments: new SegmentedFileOutput({ filenamePrefix: 'out/participant-hls/seg', playlistName: 'index.m3u8', segmentDuration: 2 }),
    });
    const { done, recordedSec } = await recordAndStop(started.egressId);

    const file = done.fileResults[0]!;
    const mp4 = await probe(file.location);
    assert.ok(Math.abs(mp4.format.duration - recordedSec) < 1, `file ${mp4.format.duration} s of ${recordedSec.toFixed(1)} s`);
    assert.equal(await colourOver(file.location, 3.3), 'yellow');
    await checkHls(done, recordedSec, 'yellow');
    await checkRtmp(done, 'good-participant', recordedSec, 'yellow');
  });

  test('track composite: RTMP + HLS without a file', async () => {
    const room = 'out-track-composite';
    const tess = await rooms.publish({ room, identity: 'tess', colourIndex: 4 });
    const started = await rooms.client.startTrackCompositeEgress(
      room,
      {
        stream: new StreamOutput({ protocol: StreamProtocol.RTMP, urls: [rtmp.url('good-track-composite')] }),
        segments: new SegmentedFileOutput({ filenamePrefix: 'out/tc-hls/seg', playlistName: 'index.m3u8', segmentDuration: 2 }),
      },
      { audioTrackId: tess.trackSid('audio'), videoTrackId: tess.trackSid('video') },
    );
    const { done, recordedSec } = await recordAndStop(started.egressId);
    assert.equal(done.fileResults.length, 0, 'no file asked for, none made');
    await checkHls(done, recordedSec, 'magenta');
    await checkRtmp(done, 'good-track-composite', recordedSec, 'magenta');
  });

  test('room composite: file + images, the thumbnails showing the layout', async () => {
    const room = 'out-room-composite';
    await rooms.publish({ room, identity: 'rita', colourIndex: 5 });
    const started = await rooms.client.startRoomCompositeEgress(
      room,
      {
        file: new EncodedFileOutput({ filepath: 'out/room.mp4' }),
        images: new ImageOutput({
          captureInterval: 2,
          width: 640,
          height: 360,
          filenamePrefix: 'out/room-thumbs/t',
          filenameSuffix: ImageFileSuffix.IMAGE_SUFFIX_INDEX,
        }),
      },
      { layout: 'single-speaker' },
    );
    const { done, recordedSec } = await recordAndStop(started.egressId);

    const file = done.fileResults[0]!;
    const mp4 = await probe(file.location);
    assert.ok(Math.abs(mp4.format.duration - recordedSec) < 1, `file ${mp4.format.duration} s of ${recordedSec.toFixed(1)} s`);
    const images = done.imageResults[0]!;
    const dir = join(rooms.service.recordingsDir, 'out/room-thumbs');
    const thumbs = readdirSync(dir)
      .filter((name) => name.endsWith('.jpeg'))
      .sort();
    assert.equal(thumbs.length, Number(images.imageCount));
    assert.ok(Math.abs(thumbs.length - recordedSec / 2) <= 1.5, `${thumbs.length} images every 2 s for ${recordedSec.toFixed(1)} s`);
    const last = join(dir, thumbs.at(-1)!);
    const jpeg = await probe(last);
    assert.equal(jpeg.streams[0]?.codec_name, 'mjpeg');
    assert.equal(jpeg.streams[0]?.width, 640);
    assert.equal(jpeg.streams[0]?.height, 360);
    // A thumbnail is one frame, taken every whole 2 s: in step with the publisher's once-a-second flash (100 ms),
    // so when one catches the flash, they all do. Each shows the participant, in its colour or its flash; the
    // file shows its colour between flashes (the majority of three frames a third of a second apart).
    const colours = await Promise.all(thumbs.slice(-3).map(async (name) => dominantColour(await decodeFrameAt(join(dir, name), 0))));
    assert.ok(
      colours.every((c) => c.startsWith('cyan') || FLASH.test(c)),
      `the thumbnails show the participant: ${colours.join(', ')}`,
    );
    assert.match(await colourOver(file.location, recordedSec / 2), /^cyan/, 'the recording shows the participant');
  });
});
