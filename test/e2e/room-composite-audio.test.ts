/**
 * Audio-only room composite on a real LiveKit server, recorded as LiveKit does without Chrome (the SDK
 * recorder): every participant's microphone mixed, DUAL_CHANNEL_ALTERNATE putting the first track on the
 * left and the second on the right; COMPLETE "Source closed" when the room closes.
 */
import { AudioMixing, EgressStatus, EncodedFileOutput, EncodedFileType } from '@livekit/protocol';
import type { EgressClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { beepOnsets } from '../support/av-sync.ts';
import { waitForStatus } from '../support/egress-waits.ts';
import { probe } from '../support/ffprobe.ts';
import { startRoomService, type RoomService } from '../support/room-service.ts';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Beep onsets (s) of one channel (c0 left, c1 right). */
async function beepTimes(path: string, channel: 'c0' | 'c1', dir: string): Promise<number[]> {
  const mono = join(dir, `${channel}.wav`);
  await run('ffmpeg', ['-v', 'error', '-y', '-i', path, '-af', `pan=mono|c0=${channel}`, mono]);
  return beepOnsets(mono);
}

describe('audio-only room composite (no Chrome)', () => {
  let rooms: RoomService;
  let client: EgressClient;

  before(async () => {
    rooms = await startRoomService();
    ({ client } = rooms);
  });
  after(async () => {
    await rooms?.stop();
  });

  test('DUAL_CHANNEL_ALTERNATE: first track left, second right; COMPLETE "Source closed" when the room closes', async () => {
    const room = 'rca-alternate';
    const publishers = [await rooms.publish({ room, video: false, identity: 'alice' })];
    const started = await client.startRoomCompositeEgress(
      room,
      { file: new EncodedFileOutput({ fileType: EncodedFileType.OGG, filepath: 'rca/{room_name}.ogg' }) },
      {
        audioOnly: true,
        audioMixing: AudioMixing.DUAL_CHANNEL_ALTERNATE,
      },
    );
    const active = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE], 30_000);
    assert.equal(active.roomId, await rooms.roomSid(room), 'room_id: the room sid');
    await sleep(2500);
    publishers.push(await rooms.publish({ room, video: false, identity: 'bob' }));
    const bobJoinedAt = (Date.now() - Number(active.startedAt / 1_000_000n)) / 1000;
    await sleep(6000);
    for (const p of publishers) await p.leave();

    const done = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 30_000);
    assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
    assert.equal(done.details, 'End reason: Source closed');
    const path = done.fileResults[0]!.location;
    const info = await probe(path);
    assert.deepEqual(
      info.streams.map((s) => [s.codec_type, s.codec_name, s.channels]),
      [['audio', 'opus', 2]],
    );

    const dir = await mkdtemp(join(tmpdir(), 'rca-'));
    try {
      const [left, right] = [await beepTimes(path, 'c0', dir), await beepTimes(path, 'c1', dir)];
      // Alice (the first track) on the left from the start; bob (the second) on the right once he is there.
      assert.ok(
        left.length >= 7 && left.filter((t) => t < bobJoinedAt - 0.5).length >= 1,
        `alice on the left: ${left.map((t) => t.toFixed(2)).join(', ')}`,
      );
      assert.ok(
        right.length >= 4 && right.every((t) => t > bobJoinedAt - 0.3),
        `bob alone on the right from ${bobJoinedAt.toFixed(2)} s: ${right.map((t) => t.toFixed(2)).join(', ')}`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
