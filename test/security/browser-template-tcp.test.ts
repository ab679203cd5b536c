/**
 * The built-in templates with url_policy.webrtc_udp false (and deny_private): Chromium sends no UDP, and the
 * room composite still records, its media over ICE/TCP to livekit-server's rtc.tcp_port, through the policy
 * proxy (CONNECT to the LiveKit host, which is exempt).
 */
import { after, before, describe, test } from 'node:test';
import { startRoomService, type RoomService } from '../support/room-service.ts';
import { recordsTheRoom } from './browser-room.ts';

describe('built-in templates without WebRTC UDP', { concurrency: false }, () => {
  let rooms: RoomService;
  before(async () => {
    rooms = await startRoomService({ url_policy: { deny_private: true, webrtc_udp: false } });
  });
  after(async () => {
    await rooms?.stop();
  });

  test('the recorder reaches the LiveKit server and the templates on loopback and records the room', () => recordsTheRoom(rooms, 'policy-grid'));
});
