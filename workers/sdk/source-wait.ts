/**
 * Waits for the recorded source to be in the room, as LiveKit's SDK source does: up to 30 s for the
 * participant or the tracks, then the egress fails "not found".
 */
import { RoomEvent, type Room } from '@livekit/rtc-node';
import { EgressError } from '../../shared/errors.ts';
import type { SourceRules } from './source-rules.ts';

export const SOURCE_WAIT_MS = 30_000;

export function waitForSource(room: Room, rules: SourceRules, timeoutMs = SOURCE_WAIT_MS): Promise<void> {
  if (rules.present(room)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!rules.present(room)) return;
      done();
      resolve();
    };
    const timer = setTimeout(() => {
      done();
      reject(new EgressError('EGR_ERR_NOT_FOUND', rules.missing(room)));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      room.off(RoomEvent.ParticipantConnected, check);
      room.off(RoomEvent.TrackPublished, check);
    };
    room.on(RoomEvent.ParticipantConnected, check);
    room.on(RoomEvent.TrackPublished, check);
  });
}
