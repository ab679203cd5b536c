/**
 * The SDK path when its room connection is lost for good: the LiveKit server is killed mid-recording (no
 * leave, no room close). As LiveKit's egress does, the egress ends FAILED "recording ended early: connection
 * to room failed", and what was recorded until then is finalized and delivered: the file plays, with the
 * participant's colour, for about as long as the server was up.
 */
import { EgressStatus, EncodedFileOutput, EncodedFileType } from '@livekit/protocol';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitForStatus } from '../support/egress-waits.ts';
import { probe } from '../support/ffprobe.ts';
import { colourOver } from '../support/recording-checks.ts';
import { startRoomService, type RoomService } from '../support/room-service.ts';

describe('room connection lost', () => {
  let rooms: RoomService;

  before(async () => {
    rooms = await startRoomService();
  });
  after(async () => {
    await rooms?.stop();
  });

  test('participant egress: the LiveKit server killed → FAILED with the reason, the file recorded until then delivered', async (t) => {
    const room = 'lost-main';
    await rooms.publish({ room, identity: 'alice', colourIndex: 2 });
    const started = await rooms.client.startParticipantEgress(room, 'alice', { file: new EncodedFileOutput({ fileType: EncodedFileType.MP4, filepath: 'lost/{room_name}.mp4' }) });
    const active = await waitForStatus(rooms.client, started.egressId, [EgressStatus.EGRESS_ACTIVE], 30_000);
    await new Promise((r) => setTimeout(r, 6000));
    const killedAtMs = Date.now();
    rooms.livekit.kill();

    const done = await waitForStatus(rooms.client, started.egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 90_000);
    t.diagnostic(`ended ${EgressStatus[done.status]} ${((Date.now() - killedAtMs) / 1000).toFixed(1)} s after the kill: ${done.error}`);
    assert.equal(done.status, EgressStatus.EGRESS_FAILED);
    assert.match(done.error, /^recording ended early: connection to room failed/);
    assert.equal(done.errorCode, 503);

    const file = done.fileResults[0];
    assert.ok(file?.location, `the partial recording is delivered: ${JSON.stringify(done.fileResults)}`);
    const info = await probe(file.location);
    const recordedSec = (killedAtMs - Number(active.startedAt / 1_000_000n)) / 1000;
    assert.ok(info.format.duration >= recordedSec - 1.5, `plays ${info.format.duration} s of the ~${recordedSec.toFixed(1)} s recorded before the kill`);
    assert.equal(info.streams.find((s) => s.codec_type === 'video')?.codec_name, 'h264');
    assert.equal(await colourOver(file.location, 3), 'blue', "alice's camera");
  });
});
