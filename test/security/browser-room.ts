/**
 * A room composite with the built-in templates, one publisher, recorded for a few seconds until the room ends:
 * COMPLETE, and the participant's colour on record. For the template policy tests (one LiveKit server per test
 * process: rtc-node is disposed when a room service stops).
 */
import { EgressStatus, EncodedFileOutput, EncodedFileType } from '@livekit/protocol';
import assert from 'node:assert/strict';
import { waitForStatus } from '../support/egress-waits.ts';
import { probe } from '../support/ffprobe.ts';
import { colourOver } from '../support/recording-checks.ts';
import type { RoomService } from '../support/room-service.ts';

export async function recordsTheRoom(rooms: RoomService, room: string): Promise<void> {
  const { client } = rooms;
  const publisher = await rooms.publish({ room, identity: 'alice', colourIndex: 0 });
  const started = await client.startRoomCompositeEgress(
    room,
    { file: new EncodedFileOutput({ fileType: EncodedFileType.MP4, filepath: 'policy/{room_name}.mp4' }) },
    { layout: 'grid' },
  );
  const active = await waitForStatus(
    client,
    started.egressId,
    [EgressStatus.EGRESS_ACTIVE, EgressStatus.EGRESS_FAILED, EgressStatus.EGRESS_ABORTED],
    60_000,
  );
  assert.equal(active.status, EgressStatus.EGRESS_ACTIVE, active.error);
  await new Promise((resolve) => setTimeout(resolve, 4000));
  await publisher.leave();
  const done = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 60_000);
  assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
  const file = done.fileResults[0]!;
  const media = await probe(file.location);
  assert.equal(media.streams.find((s) => s.codec_type === 'video')?.codec_name, 'h264');
  assert.equal(await colourOver(file.location, 2, { x: 0.1, y: 0.2, w: 0.8, h: 0.6 }), 'red', 'the participant is on record');
}
