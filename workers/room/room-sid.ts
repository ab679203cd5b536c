/**
 * The room's sid, which LiveKit reports as `room_id` (EgressInfo, manifests, `{room_id}` in names). A
 * recorder in the room through Node learns it there (rtc-node's Room; the track subscriber's join); the
 * Chromium recorder, whose page is the one in the room, asks the LiveKit server (RoomService.ListRooms, with
 * the service's key pair) once it records. '' if it is not known within SID_TIMEOUT_MS.
 */
import type { Room } from '@livekit/rtc-node';
import { RoomServiceClient } from 'livekit-server-sdk';
import type { Logger } from 'pino';
import type { LiveKitCredentials } from './recorder-token.ts';

const SID_TIMEOUT_MS = 2000;

/** The sid of a room this process has joined ('' once it has left). */
export async function sidOf(room: Room): Promise<string> {
  return withTimeout(room.getSid().catch(() => ''));
}

/** The sid of the room named `roomName` now, from the LiveKit server ('' if it has no such room); rejects if it cannot be asked. */
async function lookUpRoomSid(liveKit: LiveKitCredentials, roomName: string): Promise<string> {
  const rooms = new RoomServiceClient(liveKit.wsUrl.replace(/^ws/, 'http'), liveKit.apiKey, liveKit.apiSecret, {
    requestTimeout: SID_TIMEOUT_MS / 1000,
  });
  return withTimeout(rooms.listRooms([roomName]).then((found) => found.find((r) => r.name === roomName)?.sid ?? ''));
}

/** `room_id` of an egress recording `roomName` ('' for none): what its recorder learnt in the room, else the LiveKit server's answer. */
export async function roomIdOf(roomName: string, learnt: string | undefined, liveKit: LiveKitCredentials, log: Logger): Promise<string> {
  if (learnt || !roomName) return learnt ?? '';
  return lookUpRoomSid(liveKit, roomName).catch((err: Error) => {
    log.warn({ err: err.message }, 'room_id unknown: the LiveKit server did not say');
    return '';
  });
}

async function withTimeout(sid: Promise<string>): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(''), SID_TIMEOUT_MS)));
  try {
    return await Promise.race([sid, late]);
  } finally {
    clearTimeout(timer);
  }
}
