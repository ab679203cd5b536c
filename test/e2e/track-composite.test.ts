/**
 * Track composite egress on a real LiveKit server with rtc-node publishers: one audio and one video track
 * by id, recorded by the SDK recorder while another participant publishes beside them; black and silent
 * while muted; COMPLETE "Source closed" once both tracks are unpublished. A track id nobody publishes fails
 * the egress "not found" after the 30 s wait. Checked on the recording: the colour of the chosen video in
 * decoded frames, A/V sync from its flashes and beeps, the duration.
 */
import { EgressStatus, EncodedFileOutput, EncodedFileType } from '@livekit/protocol';
import type { EgressClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import { copyFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { MAX_AV_OFFSET_SEC, measureAvSync } from '../support/av-sync.ts';
import { waitForStatus } from '../support/egress-waits.ts';
import { probe } from '../support/ffprobe.ts';
import { startRoomService, type RoomService } from '../support/room-service.ts';
import { readManifest } from '../support/manifest-file.ts';
import { colourOver, openingColour, volumeBetween } from '../support/recording-checks.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
describe('track composite egress', { concurrency: true }, () => {
  let rooms: RoomService;
  let client: EgressClient;

  before(async () => {
    rooms = await startRoomService();
    ({ client } = rooms);
  });
  after(async () => {
    await rooms?.stop();
  });

  test('audio + video track by id: colour, A/V sync, mute → black + silence, COMPLETE "Source closed" when both are unpublished', async (t) => {
    const room = 'tc-main';
    const bob = await rooms.publish({ room, identity: 'bob', colourIndex: 1 });
    // Beside it, a participant whose tracks are not recorded.
    await rooms.publish({ room, identity: 'carol', colourIndex: 2 });

    const tracks = { audioTrackId: bob.trackSid('audio')!, videoTrackId: bob.trackSid('video')! };
    const started = await client.startTrackCompositeEgress(
      room,
      { file: new EncodedFileOutput({ fileType: EncodedFileType.MP4, filepath: 'tc/{room_name}.mp4' }) },
      tracks,
    );
    const active = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE], 30_000);
    const startedAtMs = Number(active.startedAt / 1_000_000n);
    const roomSid = await rooms.roomSid(room);
    assert.equal(active.roomId, roomSid, 'room_id: the room sid');
    const at = () => (Date.now() - startedAtMs) / 1000;
    await sleep(8000);
    const mutedAt = at();
    await Promise.all([bob.mute('video'), bob.mute('audio')]);
    await sleep(4000);
    const unmutedAt = at();
    await Promise.all([bob.unmute('video'), bob.unmute('audio')]);
    await sleep(4000);
    const unpublishedAt = at();
    await bob.unpublish('video');
    // With its video gone the recording goes on (black) until the audio is gone too.
    await sleep(1500);
    assert.equal(
      (await client.listEgress({ egressId: started.egressId }))[0]?.status,
      EgressStatus.EGRESS_ACTIVE,
      'still recording with the audio track',
    );
    await bob.unpublish('audio');

    const done = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 30_000);
    assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
    assert.equal(done.details, 'End reason: Source closed');
    t.diagnostic(`muted ${mutedAt.toFixed(1)}, unmuted ${unmutedAt.toFixed(1)}, unpublished ${unpublishedAt.toFixed(1)} s`);

    const file = done.fileResults[0]!;
    if (process.env.KEEP_RECORDINGS) await copyFile(file.location, `${process.env.KEEP_RECORDINGS}/track-composite.mp4`);
    const info = await probe(file.location);
    assert.equal(info.streams.find((s) => s.codec_type === 'video')?.codec_name, 'h264', 'encoded H.264 whatever the track');
    assert.equal(info.streams.find((s) => s.codec_type === 'audio')?.codec_name, 'aac');
    const reportedSec = Number(file.duration) / 1e9;
    assert.ok(Math.abs(info.format.duration - reportedSec) < 1, `duration ${info.format.duration} s vs reported ${reportedSec} s`);

    assert.ok(
      ['green', 'flash'].includes(await openingColour(file.location)),
      `opens on the track, no black lead-in: ${await openingColour(file.location)}`,
    );
    assert.equal(await colourOver(file.location, 2.3), 'green', 'the chosen video track, not the other participant');
    const manifest = await readManifest(done.manifestLocation);
    assert.deepEqual([manifest.room_id, manifest.audio_track_id, manifest.video_track_id], [roomSid, tracks.audioTrackId, tracks.videoTrackId]);
    for (const sec of [mutedAt + 1.3, unmutedAt - 1.7])
      assert.equal(await colourOver(file.location, sec), 'black', `black while muted (${sec.toFixed(1)} s)`);
    const mutedVolume = await volumeBetween(file.location, mutedAt + 1, unmutedAt - 0.2);
    assert.ok(mutedVolume.maxDb < -60, `silent while muted: ${JSON.stringify(mutedVolume)}`);
    assert.equal(await colourOver(file.location, unmutedAt + 1.3), 'green', 'after unmuting');
    assert.equal(await colourOver(file.location, unpublishedAt + 0.8), 'black', 'black once the video track is gone');
    assert.ok((await volumeBetween(file.location, unpublishedAt + 0.5, unpublishedAt + 1.4)).maxDb > -20, 'the audio goes on without the video');

    const sync = await measureAvSync(file.location, undefined, { untilSec: mutedAt });
    t.diagnostic(`A/V offsets (beep - flash, s): ${sync.offsets.map((o) => o.toFixed(3)).join(', ')}; median ${sync.medianOffsetSec.toFixed(3)}`);
    assert.ok(sync.offsets.length >= 5, `flashes paired with beeps: ${JSON.stringify(sync)}`);
    assert.ok(Math.abs(sync.medianOffsetSec) <= MAX_AV_OFFSET_SEC, `A/V sync ${sync.medianOffsetSec.toFixed(3)} s`);
  });

  test('a track nobody publishes: FAILED "not found" after the 30 s wait', async () => {
    const t0 = Date.now();
    const started = await client.startTrackCompositeEgress(
      'tc-missing',
      { file: new EncodedFileOutput({ filepath: 'tc/missing.mp4' }) },
      { audioTrackId: 'TR_AMissing', videoTrackId: 'TR_VMissing' },
    );
    const done = await waitForStatus(
      client,
      started.egressId,
      [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED, EgressStatus.EGRESS_ABORTED],
      60_000,
    );
    assert.equal(done.status, EgressStatus.EGRESS_FAILED);
    assert.match(done.error, /track TR_AMissing, TR_VMissing not found/);
    assert.equal(done.errorCode, 404);
    const waitedSec = (Date.now() - t0) / 1000;
    assert.ok(waitedSec >= 30 && waitedSec < 40, `failed after ${waitedSec.toFixed(1)} s`);
  });
});
