/**
 * Room composite on a real LiveKit server (test/support/livekit-server.ts) with real participants
 * publishing synthetic media (test/support/publisher.ts): the built-in template lays them out, UpdateLayout
 * changes the layout while recording, and the egress ends COMPLETE when the room closes. Checked on the
 * recording: decoded frames show each participant's colour where the layout puts it, A/V sync from the
 * publisher's flashes and beeps, the duration.
 */
import { EgressInfo, EgressStatus, EncodedFileOutput, EncodedFileType } from '@livekit/protocol';
import { RoomServiceClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import { copyFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { MAX_AV_OFFSET_SEC, measureAvSync } from '../support/av-sync.ts';
import { waitForStatus } from '../support/egress-waits.ts';
import { probe } from '../support/ffprobe.ts';
import { readManifest } from '../support/manifest-file.ts';
import { colourOver, openingColour } from '../support/recording-checks.ts';
import { startRoomService, type RoomService } from '../support/room-service.ts';
import { E2E_API_KEY, E2E_API_SECRET } from '../support/service.ts';
import { twirpCall } from '../support/twirp-call.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('room composite', { concurrency: false }, () => {
  let rooms: RoomService;

  before(async () => {
    rooms = await startRoomService();
  });
  after(async () => {
    await rooms?.stop();
  });

  test('Grid of two participants, UpdateLayout to single-speaker live, COMPLETE when the room closes', async (t) => {
    const { client, livekit } = rooms;
    const room = 'rc-grid';
    // Only the first one sounds, so every beep in the mix belongs to the flashes measured on its tile.
    const publishers = [
      await rooms.publish({ room, identity: 'alice', colourIndex: 0 }),
      await rooms.publish({ room, identity: 'bob', colourIndex: 1, audio: false }),
    ];

    const started = await client.startRoomCompositeEgress(
      room,
      { file: new EncodedFileOutput({ fileType: EncodedFileType.MP4, filepath: 'rc/{room_name}.mp4' }) },
      { layout: 'grid' },
    );
    const active = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE], 60_000);
    const roomSid = await rooms.roomSid(room);
    assert.match(roomSid, /^RM_/);
    assert.equal(active.roomId, roomSid, 'room_id: the room sid, from ACTIVE on');
    const recorder = (await new RoomServiceClient(livekit.httpUrl, E2E_API_KEY, E2E_API_SECRET).listParticipants(room)).find(
      (p) => p.identity === started.egressId,
    );
    assert.ok(recorder, 'the recorder joined the room as the egress id');
    assert.ok(recorder.permission?.hidden && recorder.permission.recorder && !recorder.permission.canPublish, 'hidden, recorder, subscribe-only');
    await sleep(8000);
    const layoutChangedAtMs = Date.now();
    await client.updateLayout(started.egressId, 'single-speaker');
    await sleep(6000);
    for (const p of publishers) await p.leave();

    const done = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 60_000);
    assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
    assert.equal(done.details, 'End reason: Source closed');
    assert.equal(done.request.case === 'roomComposite' ? done.request.value.layout : '', 'single-speaker');

    const file = done.fileResults[0]!;
    if (process.env.KEEP_RECORDINGS) await copyFile(file.location, `${process.env.KEEP_RECORDINGS}/room-composite-grid.mp4`);
    assert.equal((await readManifest(done.manifestLocation)).room_id, roomSid);
    const info = await probe(file.location);
    const video = info.streams.find((s) => s.codec_type === 'video');
    assert.equal(video?.codec_name, 'h264');
    assert.ok(info.streams.some((s) => s.codec_type === 'audio'));
    const reportedSec = Number(file.duration) / 1e9;
    assert.ok(Math.abs(info.format.duration - reportedSec) < 1, `duration ${info.format.duration} s vs reported ${reportedSec} s`);

    // Grid: alice on the left half, bob on the right (in join order). Half a second past a flash.
    const startedAtMs = Number(active.startedAt / 1_000_000n);
    const LEFT = { x: 0.05, y: 0.1, w: 0.4, h: 0.7 };
    const RIGHT = { x: 0.55, y: 0.1, w: 0.4, h: 0.7 };
    assert.ok(
      ['red', 'flash'].includes(await openingColour(file.location, LEFT)),
      `opens on alice, no black lead-in: ${await openingColour(file.location, LEFT)}`,
    );
    assert.equal(await colourOver(file.location, 4, LEFT), 'red', 'alice on the left');
    assert.equal(await colourOver(file.location, 4, RIGHT), 'green', 'bob on the right');
    // single-speaker: one participant fills the frame.
    const singleAt = (layoutChangedAtMs - startedAtMs) / 1000 + 3.5;
    const left = await colourOver(file.location, singleAt, LEFT);
    assert.equal(await colourOver(file.location, singleAt, RIGHT), left, 'one participant across the frame');
    assert.ok(left === 'red' || left === 'green', left);

    // A/V sync on alice's tile while the grid was shown (the template's lip sync; the 5-minute figure is
    // `npm run bench room-composite` (g)).
    const sync = await measureAvSync(file.location, { x: 0.05, y: 0.1, w: 0.4, h: 0.4 }, { untilSec: (layoutChangedAtMs - startedAtMs) / 1000 });
    t.diagnostic(`A/V offsets (beep - flash, s): ${sync.offsets.map((o) => o.toFixed(3)).join(', ')}; median ${sync.medianOffsetSec.toFixed(3)}`);
    assert.ok(sync.flashes.length >= 4 && sync.beeps.length >= 4, `flashes and beeps found: ${JSON.stringify(sync)}`);
    assert.ok(sync.offsets.length >= 4, `flashes paired with beeps: ${JSON.stringify(sync)}`);
    assert.ok(Math.abs(sync.medianOffsetSec) <= MAX_AV_OFFSET_SEC, `A/V sync ${sync.medianOffsetSec.toFixed(3)} s`);
  });

  test('StartEgress (v2) template: an UpdateLayout sent while it is STARTING is what the recording opens with', async () => {
    const { client, service } = rooms;
    const room = 'rc-v2-layout';
    for (const [colourIndex, identity] of ['alice', 'bob'].entries()) await rooms.publish({ room, identity, colourIndex, audio: false });
    const key = { apiKey: E2E_API_KEY, apiSecret: E2E_API_SECRET };
    const start = await twirpCall(
      service.url,
      'StartEgress',
      { room_name: room, template: { layout: 'grid' }, outputs: [{ file: { filepath: 'rc/{room_name}.mp4' } }] },
      key,
    );
    assert.equal(start.status, 200, JSON.stringify(start.json));
    const started = EgressInfo.fromJson(start.json as never);
    const updated = await client.updateLayout(started.egressId, 'single-speaker');
    assert.equal(updated.status, EgressStatus.EGRESS_STARTING, 'the layout came before the recorder was in the room');
    assert.equal(
      updated.request.case === 'egress' && updated.request.value.source.case === 'template' ? updated.request.value.source.value.layout : '',
      'single-speaker',
    );
    await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE], 60_000);
    await sleep(5000);
    await client.stopEgress(started.egressId);
    const done = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 60_000);
    assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
    // Grid would put alice (red) left and bob (green) right; single-speaker fills the frame with one of them.
    const path = done.fileResults[0]!.location;
    const LEFT = { x: 0.05, y: 0.1, w: 0.4, h: 0.7 };
    const RIGHT = { x: 0.55, y: 0.1, w: 0.4, h: 0.7 };
    for (const atSec of [1.5, 4]) {
      const left = await colourOver(path, atSec, LEFT);
      assert.ok(left === 'red' || left === 'green', `${atSec} s: ${left}`);
      assert.equal(await colourOver(path, atSec, RIGHT), left, `${atSec} s: one participant across the frame, not the grid`);
    }
  });
});
