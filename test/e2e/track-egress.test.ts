/**
 * Track egress on a real LiveKit server (test/support/livekit-server.ts) with rtc-node publishers
 * (test/support/publisher.ts): one track recorded without transcoding — H.264 → MP4, VP8 → WebM, Opus →
 * OGG — checked against what the publisher sent (codec, profile, size, frame rate, colour, beeps, no
 * encoder of ours in the file); the capture crash-safe while it records (a copy taken mid-recording plays);
 * the WebSocket output (raw PCM, mute messages); a video track refused for a WebSocket; an unknown track id
 * FAILED after LiveKit's 30 s wait; the LiveKit server killed mid-recording → FAILED with the reason, and
 * what was recorded until then delivered and playable.
 */
import {
  DirectFileOutput,
  EgressStatus,
  EncodedFileOutput,
  EncodedFileType,
  EncodingOptionsPreset,
  MediaSource,
  Output,
  StartEgressRequest,
  type EgressInfo,
} from '@livekit/protocol';
import type { EgressClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { WebSocketServer } from 'ws';
import { beepOnsets } from '../support/av-sync.ts';
import { waitForStatus } from '../support/egress-waits.ts';
import { probe } from '../support/ffprobe.ts';
import { freePort } from '../support/free-port.ts';
import { startRoomService, type RoomService } from '../support/room-service.ts';
import { PARTICIPANT_COLOURS, type Codec } from '../support/publisher.ts';
import { readManifest } from '../support/manifest-file.ts';
import { colourOver } from '../support/recording-checks.ts';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ENDED = [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED, EgressStatus.EGRESS_ABORTED, EgressStatus.EGRESS_LIMIT_REACHED];

/** ffprobe's video stream fields that say how it was encoded. */
async function videoStream(
  path: string,
): Promise<{ codec_name: string; profile: string; width: number; height: number; nb_read_frames: string; pix_fmt: string }> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_streams', '-print_format', 'json', path]);
  return (JSON.parse(stdout) as { streams: never[] }).streams[0]!;
}

/** Seconds between consecutive video frames (presentation order). */
async function frameIntervals(path: string): Promise<number[]> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', path]);
  const times = stdout
    .trim()
    .split('\n')
    .map(Number)
    .sort((a, b) => a - b);
  return times.slice(1).map((t, i) => t - times[i]!);
}

describe('track egress', { concurrency: false }, () => {
  let rooms: RoomService;
  let client: EgressClient;
  let notFound: Promise<EgressInfo>;
  let notFoundStartedAt = 0;

  const publish = async (identity: string, options: { video?: Codec; audio?: boolean; colourIndex?: number; room?: string }) => {
    return rooms.publish({
      room: options.room ?? 'tracks',
      identity,
      colourIndex: options.colourIndex ?? 0,
      video: options.video ? { codec: options.video, width: 640, height: 360, fps: 30 } : false,
      audio: options.audio ?? false,
    });
  };

  before(async () => {
    // Rooms stay 30 s after their last participant: the not-found case needs its room.
    rooms = await startRoomService({}, { emptyTimeoutSec: 30 });
    ({ client } = rooms);
    // LiveKit waits 30 s for a track to be published: started now, checked by the last test.
    notFoundStartedAt = Date.now();
    const missing = await client.startTrackEgress('tracks', new DirectFileOutput({ filepath: 'missing.ogg' }), 'TR_doesnotexist');
    notFound = waitForStatus(client, missing.egressId, ENDED, 60_000);
    notFound.catch(() => undefined);
  });
  after(async () => {
    await rooms?.stop();
  });

  for (const { codec, container, ext, colourIndex } of [
    { codec: 'h264', container: 'mov,mp4,m4a,3gp,3g2,mj2', ext: '.mp4', colourIndex: 0 },
    { codec: 'vp8', container: 'matroska,webm', ext: '.webm', colourIndex: 2 },
  ] as const) {
    test(`${codec} video track → ${ext} as published (not re-encoded), COMPLETE "Source closed" on ${codec === 'h264' ? 'unpublish' : 'leave'}`, async (t) => {
      const publisher = await publish(`${codec}-pub`, { video: codec, colourIndex });
      const trackId = publisher.trackSid('video')!;
      // A wrong known extension is replaced by the codec's, as LiveKit does.
      const started = await client.startTrackEgress(
        'tracks',
        new DirectFileOutput({ filepath: `tracks/{track_id}-{publisher_identity}-{track_source}.ogg` }),
        trackId,
      );
      const active = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE, ...ENDED], 30_000);
      assert.equal(active.status, EgressStatus.EGRESS_ACTIVE, active.error);
      const cpuBefore = process.cpuUsage();
      const recordFromMs = Date.now();
      await sleep(3000);
      // Crash-safe: the capture as it is on disk mid-recording (what a killed worker leaves) plays up to now.
      const copyDir = await mkdtemp(join(tmpdir(), 'track-capture-'));
      t.after(() => rm(copyDir, { recursive: true, force: true }));
      const captureName = codec === 'h264' ? 'capture.mkv' : 'capture.webm';
      const midway = join(copyDir, captureName);
      await copyFile(join(rooms.service.config.tmp_dir, started.egressId, captureName), midway);
      const copiedAtSec = (Date.now() - Number(active.startedAt / 1_000_000n)) / 1000;
      await sleep(3000);
      const cpu = process.cpuUsage(cpuBefore);
      // H.264: the track is unpublished; VP8: its publisher leaves the room.
      if (codec === 'h264') await publisher.unpublish('video');
      else await publisher.leave();
      const unpublishedAtMs = Date.now();

      const done = await waitForStatus(client, started.egressId, ENDED, 30_000);
      assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
      assert.equal(done.details, 'End reason: Source closed');
      const file = done.fileResults[0]!;
      assert.equal(file.filename, `tracks/${trackId}-${codec}-pub-camera${ext}`);
      assert.ok(file.location.endsWith(ext), file.location);
      if (process.env.KEEP_RECORDINGS) await copyFile(file.location, `${process.env.KEEP_RECORDINGS}/track-${codec}${ext}`);

      const info = await probe(file.location);
      assert.equal(info.format.format_name, container);
      assert.equal(info.streams.length, 1, 'one stream: the track');
      const video = await videoStream(file.location);
      assert.equal(video.codec_name, codec);
      assert.equal(`${video.width}x${video.height}`, '640x360', 'the publisher resolution');
      // What the publisher's encoder made: H.264 Constrained Baseline (42e01f) from libwebrtc's OpenH264, not
      // the High profile our x264 encodes; no x264 SEI or encoder tag of ours anywhere in the file.
      if (codec === 'h264') assert.match(video.profile, /Baseline/);
      // The file is the capture remuxed by ffmpeg -c copy (its muxer's "Lavf" tag is in it): no encoder's (Lavc).
      const bytes = await readFile(file.location);
      for (const tag of ['x264', 'Lavc', 'libvpx']) assert.equal(bytes.includes(tag), false, `${tag} in the file`);
      if (codec === 'h264') assert.ok(bytes.indexOf('moov') < bytes.indexOf('mdat'), 'faststart: the index before the media');
      // Every published frame, at the publisher's rate: about 30 per second of recording.
      const frames = Number(video.nb_read_frames);
      const recordedSec = info.format.duration;
      const expectedSec = (unpublishedAtMs - Number(active.startedAt / 1_000_000n)) / 1000;
      t.diagnostic(
        `${codec}: ${frames} frames in ${recordedSec.toFixed(2)} s (${(frames / recordedSec).toFixed(1)} fps); ${expectedSec.toFixed(2)} s between ACTIVE and unpublish; ${(bytes.length / 1024).toFixed(0)} KiB; test process CPU while recording (publisher encode included) ${(((cpu.user + cpu.system) / 1000 / (Date.now() - recordFromMs)) * 100).toFixed(0)} %`,
      );
      assert.ok(Math.abs(recordedSec - expectedSec) < 1.5, `duration ${recordedSec} s vs ${expectedSec} s`);
      // The publisher's encoder skips frames now and then (libwebrtc on a busy machine: ~25 of 30 fps measured
      // at the SFU); each frame keeps its capture time, so every interval is a whole number of 1/30 s.
      assert.ok(frames / recordedSec > 18 && frames / recordedSec < 31, `${frames} frames in ${recordedSec} s`);
      const intervals = await frameIntervals(file.location);
      const offGrid = intervals.filter((d) => Math.abs(d * 30 - Math.round(d * 30)) > 0.1 || Math.round(d * 30) < 1);
      // Under load libwebrtc's capture-time smoothing moves a frame or two off the grid; a recorder stamping frames
      // by their arrival would put most of them off it.
      assert.ok(
        offGrid.length <= Math.max(1, intervals.length * 0.03),
        `${offGrid.length} of ${intervals.length} intervals not a multiple of 1/30 s: ${offGrid.slice(0, 10).join(', ')}`,
      );
      // Full decode without errors.
      const { stderr } = await run('ffmpeg', ['-v', 'error', '-i', file.location, '-f', 'null', '-']);
      assert.equal(stderr.trim(), '', 'decodes without errors');
      assert.equal(await colourOver(file.location, 2.3), PARTICIPANT_COLOURS[colourIndex].name);
      // room_id and what the track is, in EgressInfo and the manifest, as LiveKit fills them.
      const roomSid = await rooms.roomSid('tracks');
      assert.match(roomSid, /^RM_/);
      assert.equal(done.roomId, roomSid);
      const manifest = await readManifest(done.manifestLocation);
      assert.deepEqual(
        [manifest.room_id, manifest.track_id, manifest.track_kind, manifest.track_source, manifest.publisher_identity],
        [roomSid, trackId, 'video', 'camera', `${codec}-pub`],
      );

      // The copy taken mid-recording: the publisher's stream up to the copy, every frame decodable, and the
      // salvage job's remux makes it a normal file of the same length.
      const partial = await videoStream(midway);
      assert.equal(partial.codec_name, codec);
      const { stderr: partialErrors } = await run('ffmpeg', ['-v', 'error', '-i', midway, '-f', 'null', '-']);
      assert.equal(partialErrors.trim(), '', 'the mid-recording copy decodes without errors');
      const salvaged = join(copyDir, `salvaged${ext}`);
      await run('ffmpeg', ['-v', 'error', '-y', '-i', midway, '-c', 'copy', ...(ext === '.mp4' ? ['-movflags', '+faststart'] : []), salvaged]);
      const salvagedInfo = await probe(salvaged);
      const salvagedFrames = Number((await videoStream(salvaged)).nb_read_frames);
      t.diagnostic(
        `${codec} mid-recording copy ${copiedAtSec.toFixed(2)} s after ACTIVE: ${partial.nb_read_frames} frames; as ${ext}: ${salvagedInfo.format.duration.toFixed(2)} s, ${salvagedFrames} frames`,
      );
      assert.equal(salvagedInfo.format.format_name, container);
      assert.ok(Math.abs(salvagedInfo.format.duration - copiedAtSec) < 1, `${salvagedInfo.format.duration} s recorded by ${copiedAtSec} s`);
      assert.ok(salvagedFrames / salvagedInfo.format.duration > 18, `${salvagedFrames} frames`);
    });
  }

  test('Opus audio track → OGG with the publisher beeps 1 s apart, a muted stretch kept (v2 StartEgress PASSTHROUGH), StopEgress ends it', async (t) => {
    const publisher = await publish('opus-pub', { audio: true });
    const trackId = publisher.trackSid('audio')!;
    const started = await client.startEgress(
      new StartEgressRequest({
        roomName: 'tracks',
        source: { case: 'media', value: new MediaSource({ audio: { routes: [{ match: { case: 'trackId', value: trackId } }] } as never }) },
        encoding: { case: 'preset', value: EncodingOptionsPreset.PASSTHROUGH },
        outputs: [
          new Output({
            config: {
              case: 'file',
              value: new EncodedFileOutput({ fileType: EncodedFileType.DEFAULT_FILETYPE, filepath: 'tracks/{track_type}-{room_name}' }),
            },
          }),
        ],
      }),
    );
    const active = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE, ...ENDED], 30_000);
    assert.equal(active.status, EgressStatus.EGRESS_ACTIVE, active.error);
    // Muted for 2 s in the middle: no packets then; the file keeps the wall clock (filled gap).
    await sleep(3000);
    await publisher.mute('audio');
    await sleep(2000);
    await publisher.unmute('audio');
    await sleep(3000);
    const stoppedAtMs = Date.now();
    await client.stopEgress(started.egressId);
    const done = await waitForStatus(client, started.egressId, ENDED, 30_000);
    assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
    const file = done.fileResults[0]!;
    assert.equal(file.filename, 'tracks/audio-tracks.ogg');
    const info = await probe(file.location);
    assert.equal(info.format.format_name, 'ogg');
    assert.equal(info.streams[0]?.codec_name, 'opus');
    assert.ok(
      Math.abs(info.format.duration - Number(file.duration) / 1e9) < 1,
      `duration ${info.format.duration} vs reported ${Number(file.duration) / 1e9}`,
    );
    const onsets = await beepOnsets(file.location);
    const gaps = onsets.slice(1).map((o, i) => o - onsets[i]!);
    t.diagnostic(`opus: ${info.format.duration.toFixed(2)} s, beeps at ${onsets.map((o) => o.toFixed(3)).join(', ')}`);
    assert.ok(onsets.length >= 5, `beeps: ${onsets.join(', ')}`);
    // 1 s apart, and across the muted stretch a whole number of seconds: the gap was filled, not collapsed. The
    // SFU re-times a resumed track by some tens of ms (its RTP timestamps are not the publisher's clock there).
    for (const gap of gaps) {
      const tolerance = Math.round(gap) >= 2 ? 0.08 : 0.03;
      assert.ok(Math.abs(gap - Math.round(gap)) < tolerance && Math.round(gap) >= 1, `beeps ${gaps.map((g) => g.toFixed(3)).join(', ')} s apart`);
    }
    assert.ok(
      gaps.some((gap) => Math.round(gap) >= 2),
      `the muted stretch: ${gaps.map((g) => g.toFixed(3)).join(', ')}`,
    );
    const expectedSec = (stoppedAtMs - Number(active.startedAt / 1_000_000n)) / 1000;
    assert.ok(Math.abs(info.format.duration - expectedSec) < 1, `duration ${info.format.duration} s vs ${expectedSec} s recorded`);
    const manifest = await readManifest(done.manifestLocation);
    assert.deepEqual([manifest.track_kind, manifest.track_source, manifest.room_id], ['audio', 'microphone', await rooms.roomSid('tracks')]);
    await publisher.unpublish('audio');
  });

  test('websocket_url: raw PCM s16le 48 kHz stereo in binary frames, {"muted"} text frames, Content-Type audio/x-raw, closed at the end', async (t) => {
    const port = await freePort();
    const wss = new WebSocketServer({ port, host: '127.0.0.1' });
    t.after(() => wss.close());
    const received = new Promise<{
      request: IncomingMessage;
      bytes: number;
      texts: string[];
      pcm: Buffer[];
      firstAt: number;
      closedAt: number;
      closeCode: number;
    }>((resolve) => {
      wss.on('connection', (socket, request) => {
        const state = { request, bytes: 0, texts: [] as string[], pcm: [] as Buffer[], firstAt: 0, closedAt: 0, closeCode: 0 };
        socket.on('message', (data, isBinary) => {
          state.firstAt ||= Date.now();
          if (isBinary) {
            const chunk = data as Buffer;
            state.bytes += chunk.length;
            state.pcm.push(chunk);
          } else state.texts.push((data as Buffer).toString('utf8'));
        });
        socket.on('close', (code) => resolve({ ...state, closedAt: Date.now(), closeCode: code }));
      });
    });
    const publisher = await publish('ws-pub', { audio: true });
    const started = await client.startTrackEgress('tracks', `ws://127.0.0.1:${port}/pcm`, publisher.trackSid('audio')!);
    const active = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE, ...ENDED], 30_000);
    assert.equal(active.status, EgressStatus.EGRESS_ACTIVE, active.error);
    await sleep(2000);
    await publisher.mute('audio');
    await sleep(2000);
    await publisher.unmute('audio');
    await sleep(2000);
    await publisher.leave();

    const done = await waitForStatus(client, started.egressId, ENDED, 30_000);
    assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
    assert.equal(done.details, 'End reason: Source closed');
    const ws = await received;
    assert.equal(ws.request.headers['content-type'], 'audio/x-raw');
    assert.deepEqual(
      ws.texts.map((text) => JSON.parse(text) as unknown),
      [{ muted: true }, { muted: false }],
    );
    const seconds = (ws.closedAt - ws.firstAt) / 1000;
    t.diagnostic(
      `websocket: ${ws.bytes} B of PCM in ${seconds.toFixed(2)} s (${(ws.bytes / seconds).toFixed(0)} B/s), ${ws.pcm.length} binary messages, close code ${ws.closeCode}`,
    );
    assert.equal(ws.bytes % 4, 0, 'whole stereo s16 samples');
    assert.ok(Math.abs(ws.bytes - 192_000 * seconds) < 192_000 * 0.5, `${ws.bytes} B in ${seconds} s`);
    // The beeps are there (left = right, 1 kHz, half scale), and the muted stretch is silent.
    const pcm = Buffer.concat(ws.pcm);
    const samples = new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length / 2);
    const peakOf = (fromSec: number, toSec: number) => {
      let peak = 0;
      for (let i = Math.floor(fromSec * 96_000) & ~1; i < Math.min(samples.length, toSec * 96_000); i++) peak = Math.max(peak, Math.abs(samples[i]!));
      return peak;
    };
    assert.ok(peakOf(0, 2) > 8000, `beeps before the mute (peak ${peakOf(0, 2)})`);
    assert.ok(peakOf(2.6, 3.6) < 500, `silence while muted (peak ${peakOf(2.6, 3.6)})`);
    assert.ok(peakOf(seconds - 1.8, seconds) > 8000, `beeps after the unmute (peak ${peakOf(seconds - 1.8, seconds)})`);
  });

  test('websocket_url on a video track → FAILED: a WebSocket takes audio only', async () => {
    const publisher = await publish('ws-video-pub', { video: 'vp8', colourIndex: 1 });
    const port = await freePort();
    const started = await client.startTrackEgress('tracks', `ws://127.0.0.1:${port}/pcm`, publisher.trackSid('video')!);
    const done = await waitForStatus(client, started.egressId, ENDED, 30_000);
    assert.equal(done.status, EgressStatus.EGRESS_FAILED);
    assert.match(done.error, /incompatible with codec video\/VP8/i);
    await publisher.leave();
  });

  test('a track id not published within 30 s → FAILED "track … not found"', async () => {
    const done = await notFound;
    assert.equal(done.status, EgressStatus.EGRESS_FAILED);
    assert.match(done.error, /track TR_doesnotexist not found/);
    const waitedSec = (Number(done.endedAt / 1_000_000n) - notFoundStartedAt) / 1000;
    assert.ok(waitedSec >= 29 && waitedSec < 45, `failed after ${waitedSec} s`);
  });

  test('livekit-server SIGKILLed → FAILED with the reason; what was recorded until then delivered (file_results) and playable', async (t) => {
    // Last: it kills the room fixture's server (rtc-node cannot be used again in this process after dispose(),
    // so a dedicated server and publisher would have to come before the others).
    const publisher = await rooms.publish({
      room: 'lost',
      identity: 'lost-pub',
      colourIndex: 1,
      video: { codec: 'h264', width: 640, height: 360, fps: 30 },
      audio: false,
    });
    const trackId = publisher.trackSid('video')!;
    const started = await client.startTrackEgress('lost', new DirectFileOutput({ filepath: 'lost/{track_id}' }), trackId);
    const active = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE, ...ENDED], 30_000);
    assert.equal(active.status, EgressStatus.EGRESS_ACTIVE, active.error);
    await sleep(5000);
    rooms.livekit.kill();
    const killedAtMs = Date.now();

    const done = await waitForStatus(client, started.egressId, ENDED, 30_000);
    const endedAfterSec = (Date.now() - killedAtMs) / 1000;
    assert.equal(done.status, EgressStatus.EGRESS_FAILED, `${EgressStatus[done.status]}: ${done.error}`);
    assert.match(done.error, /connection to room failed/);
    assert.equal(done.details, 'End reason: Failure');
    const file = done.fileResults[0];
    assert.ok(file?.location, 'the recording so far is delivered');
    assert.equal(file.filename, `lost/${trackId}.mp4`);
    assert.equal(done.result.case, 'file');
    const info = await probe(file.location);
    const video = await videoStream(file.location);
    const recordedSec = (killedAtMs - Number(active.startedAt / 1_000_000n)) / 1000;
    t.diagnostic(
      `FAILED ${endedAfterSec.toFixed(1)} s after the kill: "${done.error}"; ${info.format.duration.toFixed(2)} s and ${video.nb_read_frames} frames delivered of ${recordedSec.toFixed(2)} s recorded before the kill`,
    );
    assert.equal(info.format.format_name, 'mov,mp4,m4a,3gp,3g2,mj2');
    assert.equal(video.codec_name, 'h264');
    assert.ok(Math.abs(info.format.duration - recordedSec) < 1.5, `${info.format.duration} s of ${recordedSec} s`);
    assert.ok(Math.abs(Number(file.duration) / 1e9 - info.format.duration) < 1.5, `reported ${Number(file.duration) / 1e9} s`);
    assert.ok(Number(file.size) > 0);
    const { stderr } = await run('ffmpeg', ['-v', 'error', '-i', file.location, '-f', 'null', '-']);
    assert.equal(stderr.trim(), '', 'decodes without errors');
  });
});
