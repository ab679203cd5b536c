/**
 * Participant egress on a real LiveKit server (test/support/livekit-server.ts) with an rtc-node publisher
 * (test/support/publisher.ts): the SDK recorder joins as a hidden recorder, records the participant's
 * camera and microphone, shows black and records silence while they are muted, goes on across an
 * unpublish and republish, and ends COMPLETE "Source closed" when the participant leaves. A participant
 * that never comes fails the egress "not found" after the 30 s wait. Checked on the recording: the
 * participant's colour in decoded frames, A/V sync from its flashes and beeps, the duration.
 */
import { EgressStatus, EncodedFileOutput, EncodedFileType } from '@livekit/protocol';
import { type EgressClient, RoomServiceClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import { copyFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { beepOnsets, MAX_AV_OFFSET_SEC, measureAvSync } from '../support/av-sync.ts';
import { waitForStatus } from '../support/egress-waits.ts';
import { probe } from '../support/ffprobe.ts';
import type { LiveKitServer } from '../support/livekit-server.ts';
import { startRoomService, type RoomService } from '../support/room-service.ts';
import { readManifest } from '../support/manifest-file.ts';
import { colourOver, openingColour, volumeBetween } from '../support/recording-checks.ts';
import { E2E_API_KEY, E2E_API_SECRET } from '../support/service.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('participant egress', { concurrency: true }, () => {
  let rooms: RoomService;
  let livekit: LiveKitServer;
  let client: EgressClient;

  before(async () => {
    rooms = await startRoomService();
    ({ livekit, client } = rooms);
  });
  after(async () => {
    await rooms?.stop();
  });

  test('camera + microphone: colour, A/V sync, mute → black + silence, unpublish/republish goes on, COMPLETE "Source closed" on leave', async (t) => {
    const room = 'pe-main';
    const alice = await rooms.publish({ room, identity: 'alice', colourIndex: 0 });

    const started = await client.startParticipantEgress(room, 'alice', {
      file: new EncodedFileOutput({ fileType: EncodedFileType.MP4, filepath: 'pe/{room_name}.mp4' }),
    });
    const active = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE], 30_000);
    const startedAtMs = Number(active.startedAt / 1_000_000n);
    const at = () => (Date.now() - startedAtMs) / 1000;
    const roomSid = await rooms.roomSid(room);
    assert.match(roomSid, /^RM_/);
    assert.equal(active.roomId, roomSid, 'room_id: the room sid, from ACTIVE on');
    const recorder = (await new RoomServiceClient(livekit.httpUrl, E2E_API_KEY, E2E_API_SECRET).listParticipants(room)).find(
      (p) => p.identity === started.egressId,
    );
    assert.ok(recorder?.permission?.hidden && recorder.permission.recorder && !recorder.permission.canPublish, 'a hidden, subscribe-only recorder');

    await sleep(8000);
    const mutedAt = at();
    await Promise.all([alice.mute('video'), alice.mute('audio')]);
    await sleep(4000);
    const unmutedAt = at();
    await Promise.all([alice.unmute('video'), alice.unmute('audio')]);
    await sleep(3000);
    const unpublishedAt = at();
    await Promise.all([alice.unpublish('video'), alice.unpublish('audio')]);
    await sleep(2000);
    const republishedAt = at();
    await Promise.all([alice.republish('video'), alice.republish('audio')]);
    await sleep(6000);
    const leftAt = at();
    await alice.leave();

    const done = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 30_000);
    assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
    assert.equal(done.details, 'End reason: Source closed');
    t.diagnostic(
      `muted ${mutedAt.toFixed(1)}, unmuted ${unmutedAt.toFixed(1)}, unpublished ${unpublishedAt.toFixed(1)}, republished ${republishedAt.toFixed(1)}, left ${leftAt.toFixed(1)} s`,
    );

    const file = done.fileResults[0]!;
    if (process.env.KEEP_RECORDINGS) await copyFile(file.location, `${process.env.KEEP_RECORDINGS}/participant.mp4`);
    const info = await probe(file.location);
    const video = info.streams.find((s) => s.codec_type === 'video');
    assert.equal(video?.codec_name, 'h264');
    assert.deepEqual([video.width, video.height], [1280, 720]);
    assert.equal(info.streams.find((s) => s.codec_type === 'audio')?.codec_name, 'aac');
    const reportedSec = Number(file.duration) / 1e9;
    assert.ok(Math.abs(info.format.duration - reportedSec) < 1, `duration ${info.format.duration} s vs reported ${reportedSec} s`);
    assert.ok(Math.abs(info.format.duration - leftAt) < 2, `recorded ${info.format.duration} s, the participant left at ${leftAt.toFixed(1)} s`);

    // The participant fills the frame (640×360 into 1280×720): its colour, half a second past a flash. The file
    // opens on it (started_at is its first frame): no black lead-in.
    assert.ok(['red', 'flash'].includes(await openingColour(file.location)), `the first frame: ${await openingColour(file.location)}`);
    assert.equal(await colourOver(file.location, 2.3), 'red', 'the participant at the start');
    assert.equal(done.roomId, roomSid);
    const manifest = await readManifest(done.manifestLocation);
    assert.deepEqual([manifest.room_id, manifest.room_name, manifest.publisher_identity], [roomSid, room, 'alice']);
    // Muted: black and silent (a margin for the mute to reach the recorder).
    for (const sec of [mutedAt + 1.3, unmutedAt - 1.7])
      assert.equal(await colourOver(file.location, sec), 'black', `black while muted (${sec.toFixed(1)} s)`);
    const mutedVolume = await volumeBetween(file.location, mutedAt + 1, unmutedAt - 0.2);
    assert.ok(mutedVolume.maxDb < -60, `silent while muted: ${JSON.stringify(mutedVolume)}`);
    assert.ok((await volumeBetween(file.location, 1, mutedAt - 0.5)).maxDb > -20, 'beeps before the mute');
    // Unmuted, then republished: the participant again, with sound.
    assert.equal(await colourOver(file.location, unmutedAt + 1.3), 'red', 'after unmuting');
    assert.equal(await colourOver(file.location, republishedAt + 3.3), 'red', 'after republishing');
    const beepsAfterRepublish = (await beepOnsets(file.location)).filter((s) => s > republishedAt + 1.5);
    assert.ok(beepsAfterRepublish.length >= 3, `beeps after republishing: ${beepsAfterRepublish.join(', ')}`);

    // A/V sync before the mute, and after the republish (the lip sync holds video back by the audio's extra
    // receive delay: tens of ms on an idle host, 100+ on a busy one).
    for (const [name, sync] of [
      ['before the mute', await measureAvSync(file.location, undefined, { untilSec: mutedAt })],
      ['after the republish', await measureAvSync(file.location, undefined, { fromSec: republishedAt + 1.5, untilSec: leftAt - 0.5 })],
    ] as const) {
      t.diagnostic(
        `A/V offsets ${name} (beep - flash, s): ${sync.offsets.map((o) => o.toFixed(3)).join(', ')}; median ${sync.medianOffsetSec.toFixed(3)}`,
      );
      assert.ok(sync.offsets.length >= 3, `flashes paired with beeps ${name}: ${JSON.stringify(sync)}`);
      assert.ok(Math.abs(sync.medianOffsetSec) <= MAX_AV_OFFSET_SEC, `A/V sync ${name}: ${sync.medianOffsetSec.toFixed(3)} s`);
    }
  });

  test('a participant that never comes: FAILED "not found" after the 30 s wait', async () => {
    const t0 = Date.now();
    const started = await client.startParticipantEgress('pe-missing', 'nobody', { file: new EncodedFileOutput({ filepath: 'pe/missing.mp4' }) });
    const done = await waitForStatus(
      client,
      started.egressId,
      [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED, EgressStatus.EGRESS_ABORTED],
      60_000,
    );
    assert.equal(done.status, EgressStatus.EGRESS_FAILED);
    assert.match(done.error, /participant nobody not found/);
    assert.equal(done.errorCode, 404);
    const waitedSec = (Date.now() - t0) / 1000;
    assert.ok(waitedSec >= 30 && waitedSec < 40, `failed after ${waitedSec.toFixed(1)} s`);
  });
});
