/**
 * The built-in templates under url_policy.deny_private, against a real LiveKit server on loopback: the room
 * composite recorder reaches the operator's LiveKit server (ws_url's host, every port: signalling over the
 * proxy's CONNECT, ICE) and the built-in templates (template_base's origin), which deny_private would
 * otherwise refuse, and records the participant.
 */
import { after, before, describe, test } from 'node:test';
import { startRoomService, type RoomService } from '../support/room-service.ts';
import { recordsTheRoom } from './browser-room.ts';

describe('built-in templates with deny_private', { concurrency: false }, () => {
  let rooms: RoomService;
  before(async () => {
    rooms = await startRoomService({ url_policy: { deny_private: true, webrtc_udp: true } });
  });
  after(async () => {
    await rooms?.stop();
  });

  test('the recorder reaches the LiveKit server and the templates on loopback and records the room', () => recordsTheRoom(rooms, 'policy-grid'));
});
