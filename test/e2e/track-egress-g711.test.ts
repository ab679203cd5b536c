/**
 * Track egress of G.711 tracks (PCMU, PCMA: what SIP participants publish) on a real LiveKit server, with a
 * werift publisher (test/support/g711-publisher.ts; rtc-node publishes Opus only): the track is decoded and
 * encoded to Opus in an OGG, as LiveKit does, with the publisher's beeps 1 s apart and a gap in its RTP
 * filled with silence (the file keeps the wall-clock length); and the WebSocket output of a PCMU track (raw
 * PCM s16le 48 kHz stereo, decoded by rtc-node).
 */
import { DirectFileOutput, EgressStatus } from '@livekit/protocol';
import { RoomServiceClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { WebSocketServer } from 'ws';
import { beepOnsets } from '../support/av-sync.ts';
import { waitForStatus } from '../support/egress-waits.ts';
import { probe } from '../support/ffprobe.ts';
import { freePort } from '../support/free-port.ts';
import { startG711Publisher, type G711Publisher } from '../support/g711-publisher.ts';
import { startRoomService, type RoomService } from '../support/room-service.ts';
import { E2E_API_KEY, E2E_API_SECRET } from '../support/service.ts';
import type { G711Law } from '../../workers/track/codecs.ts';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ENDED = [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED, EgressStatus.EGRESS_ABORTED, EgressStatus.EGRESS_LIMIT_REACHED];
const ROOM = 'sip-tracks';

/** The track's MIME type as the server has it (known once its media has come). */
async function publishedMimeType(rooms: RoomService, publisher: G711Publisher): Promise<string | undefined> {
  const roomService = new RoomServiceClient(rooms.livekit.httpUrl, E2E_API_KEY, E2E_API_SECRET);
  let mimeType: string | undefined;
  for (let i = 0; i < 50 && !mimeType; i++) {
    const participant = await roomService.getParticipant(ROOM, publisher.identity);
    mimeType = participant.tracks.find((track) => track.sid === publisher.trackSid)?.mimeType.toLowerCase() || undefined;
    if (!mimeType) await sleep(100);
  }
  return mimeType;
}

describe('track egress of G.711 (PCMU, PCMA)', { concurrency: false }, () => {
  let rooms: RoomService;
  const publishers: G711Publisher[] = [];

  const publish = async (identity: string, law: G711Law) => {
    const publisher = await startG711Publisher({ url: rooms.livekit.url, apiKey: E2E_API_KEY, apiSecret: E2E_API_SECRET, room: ROOM, identity, law });
    publishers.push(publisher);
    return publisher;
  };

  before(async () => {
    rooms = await startRoomService({}, { emptyTimeoutSec: 30 });
  });
  after(async () => {
    await Promise.all(publishers.map((p) => p.leave().catch(() => undefined)));
    await rooms?.stop();
  });

  for (const law of ['pcmu', 'pcma'] as const) {
    test(`${law.toUpperCase()} audio track → OGG (Opus 48 kHz), beeps 1 s apart, a 2 s RTP gap filled, COMPLETE "Source closed" on leave`, async (t) => {
      const publisher = await publish(`${law}-sip`, law);
      assert.equal(await publishedMimeType(rooms, publisher), `audio/${law}`, 'the server published the G.711 codec');
      const started = await rooms.client.startTrackEgress(
        ROOM,
        new DirectFileOutput({ filepath: `g711/{track_id}-{publisher_identity}` }),
        publisher.trackSid,
      );
      const active = await waitForStatus(rooms.client, started.egressId, [EgressStatus.EGRESS_ACTIVE, ...ENDED], 30_000);
      assert.equal(active.status, EgressStatus.EGRESS_ACTIVE, active.error);
      await sleep(3000);
      // Crash-safe: the capture as it is on disk mid-recording plays up to now.
      const copyDir = await mkdtemp(join(tmpdir(), 'g711-capture-'));
      t.after(() => rm(copyDir, { recursive: true, force: true }));
      const midway = join(copyDir, 'capture.ogg');
      await copyFile(join(rooms.service.config.tmp_dir, started.egressId, 'capture.ogg'), midway);
      const copiedAtSec = (Date.now() - Number(active.startedAt / 1_000_000n)) / 1000;
      // No RTP for 2 s (lost packets, a silent SIP leg): the file keeps the wall clock.
      await publisher.pause(2000);
      await sleep(3000);
      await publisher.leave();
      const leftAtMs = Date.now();

      const done = await waitForStatus(rooms.client, started.egressId, ENDED, 30_000);
      assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
      assert.equal(done.details, 'End reason: Source closed');
      const file = done.fileResults[0]!;
      assert.equal(file.filename, `g711/${publisher.trackSid}-${law}-sip.ogg`);
      if (process.env.KEEP_RECORDINGS) await copyFile(file.location, `${process.env.KEEP_RECORDINGS}/track-${law}.ogg`);

      const info = await probe(file.location);
      assert.equal(info.format.format_name, 'ogg');
      assert.equal(info.streams.length, 1);
      assert.equal(info.streams[0]?.codec_name, 'opus');
      assert.equal(Number(info.streams[0]?.sample_rate), 48_000);
      const reportedSec = Number(file.duration) / 1e9;
      const expectedSec = (leftAtMs - Number(active.startedAt / 1_000_000n)) / 1000;
      const { stderr } = await run('ffmpeg', ['-v', 'error', '-i', file.location, '-f', 'null', '-']);
      const onsets = await beepOnsets(file.location);
      const gaps = onsets.slice(1).map((o, i) => o - onsets[i]!);
      t.diagnostic(
        `${law}: ${info.format.duration.toFixed(2)} s (reported ${reportedSec.toFixed(2)} s, ${expectedSec.toFixed(2)} s between ACTIVE and leave), ${publisher.sent()} packets sent, ${(Number(file.size) / 1024).toFixed(0)} KiB; beeps at ${onsets.map((o) => o.toFixed(3)).join(', ')}`,
      );
      assert.equal(stderr.trim(), '', 'decodes without errors');
      assert.ok(Math.abs(info.format.duration - reportedSec) < 1, `duration ${info.format.duration} vs reported ${reportedSec}`);
      assert.ok(Math.abs(info.format.duration - expectedSec) < 1, `duration ${info.format.duration} s vs ${expectedSec} s recorded`);
      assert.ok(onsets.length >= 6, `beeps: ${onsets.join(', ')}`);
      // 1 s apart, every one: the RTP gap (two beeps not sent) was filled, not collapsed: a gap of 3 s there.
      for (const gap of gaps)
        assert.ok(Math.abs(gap - Math.round(gap)) < 0.03 && Math.round(gap) >= 1, `beeps ${gaps.map((g) => g.toFixed(3)).join(', ')} s apart`);
      assert.ok(
        gaps.some((gap) => Math.round(gap) >= 2),
        `the RTP gap: ${gaps.map((g) => g.toFixed(3)).join(', ')}`,
      );

      // The copy taken mid-recording decodes, Opus, up to when it was taken.
      const partial = await probe(midway);
      const { stderr: partialErrors } = await run('ffmpeg', ['-v', 'error', '-i', midway, '-f', 'null', '-']);
      t.diagnostic(`${law} mid-recording copy ${copiedAtSec.toFixed(2)} s after ACTIVE: ${partial.format.duration.toFixed(2)} s`);
      assert.equal(partial.streams[0]?.codec_name, 'opus');
      assert.equal(partialErrors.trim(), '', 'the mid-recording copy decodes without errors');
      assert.ok(Math.abs(partial.format.duration - copiedAtSec) < 1, `${partial.format.duration} s recorded by ${copiedAtSec} s`);
    });
  }

  test('websocket_url with a PCMU track: raw PCM s16le 48 kHz stereo with the beeps', async (t) => {
    const port = await freePort();
    const wss = new WebSocketServer({ port, host: '127.0.0.1' });
    t.after(() => wss.close());
    const received = new Promise<{ bytes: number; pcm: Buffer[]; firstAt: number; closedAt: number }>((resolve) => {
      wss.on('connection', (socket) => {
        const state = { bytes: 0, pcm: [] as Buffer[], firstAt: 0, closedAt: 0 };
        socket.on('message', (data, isBinary) => {
          state.firstAt ||= Date.now();
          if (!isBinary) return;
          state.bytes += (data as Buffer).length;
          state.pcm.push(data as Buffer);
        });
        socket.on('close', () => resolve({ ...state, closedAt: Date.now() }));
      });
    });
    const publisher = await publish('ws-sip', 'pcmu');
    const started = await rooms.client.startTrackEgress(ROOM, `ws://127.0.0.1:${port}/pcm`, publisher.trackSid);
    const active = await waitForStatus(rooms.client, started.egressId, [EgressStatus.EGRESS_ACTIVE, ...ENDED], 30_000);
    assert.equal(active.status, EgressStatus.EGRESS_ACTIVE, active.error);
    await sleep(4000);
    await publisher.leave();
    const done = await waitForStatus(rooms.client, started.egressId, ENDED, 30_000);
    assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
    const ws = await received;
    const seconds = (ws.closedAt - ws.firstAt) / 1000;
    const pcm = Buffer.concat(ws.pcm);
    const samples = new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length / 2);
    // Per second of stereo at 48 kHz: the peak in its first 100 ms window (a beep) and in the rest.
    let peak = 0;
    for (let i = 0; i < samples.length; i++) peak = Math.max(peak, Math.abs(samples[i]!));
    const onsets: number[] = [];
    for (let i = 0, above = false; i < samples.length; i += 2) {
      const loud = Math.abs(samples[i]!) > 4000;
      if (loud && !above && (onsets.length === 0 || i / 96_000 - onsets.at(-1)! > 0.5)) onsets.push(i / 96_000);
      above = loud;
    }
    const beepSeconds = onsets.length;
    const gaps = onsets.slice(1).map((o, i) => o - onsets[i]!);
    t.diagnostic(
      `websocket pcmu: ${ws.bytes} B in ${seconds.toFixed(2)} s (${(ws.bytes / seconds).toFixed(0)} B/s), peak ${peak}, beeps at ${onsets.map((o) => o.toFixed(3)).join(', ')}`,
    );
    assert.equal(ws.bytes % 4, 0, 'whole stereo s16 samples');
    assert.ok(Math.abs(ws.bytes - 192_000 * seconds) < 192_000 * 0.5, `${ws.bytes} B in ${seconds} s`);
    assert.ok(beepSeconds >= 3, `beeps decoded from PCMU: ${onsets.join(', ')}`);
    for (const gap of gaps) assert.ok(Math.abs(gap - 1) < 0.05, `beeps ${gaps.map((g) => g.toFixed(3)).join(', ')} s apart`);
  });
});
