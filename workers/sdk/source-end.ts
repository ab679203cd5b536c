/**
 * When an SDK recording's source is over, decided from what the track feeds (track-feeds.ts) know: the rules
 * of the source (source-rules.ts) against the room, the tracks followed and whether the connection is being
 * re-established. Pure, so each rule can be checked alone.
 */
import { DisconnectReason, type Room } from '@livekit/rtc-node';
import type { SourceRules } from './source-rules.ts';

/** Why the recording is over: its source is gone ("Source closed"), or the room connection was lost. */
export interface SourceEnd {
  why: string;
  /** The connection to the room was lost, not closed by the room: the egress fails, its recording delivered. */
  lost?: true;
}

/** Disconnections that are the room ending, not the connection failing. */
const ROOM_ENDED: ReadonlySet<DisconnectReason> = new Set([DisconnectReason.ROOM_DELETED, DisconnectReason.ROOM_CLOSED]);

/** The room connection ended: the room closed, or the connection was lost (rtc-node gave up reconnecting). */
export function disconnectedEnd(reason: DisconnectReason): SourceEnd {
  if (ROOM_ENDED.has(reason)) return { why: 'room closed' };
  return { why: `connection to room failed (${DisconnectReason[reason] ?? reason})`, lost: true };
}

/** What the feeds know when they are asked. */
export interface FeedsState {
  /** Some track was ever followed. */
  everFed: boolean;
  /** Tracks followed now. */
  following: number;
  /** The connection is being re-established: rtc-node drops participants and tracks meanwhile, not gone for real. */
  reconnecting: boolean;
}

/** After a track went: a track egress ends once every track it followed is gone. */
export function endAfterTrackGone(rules: Pick<SourceRules, 'endsWhen'>, state: FeedsState): SourceEnd | undefined {
  return rules.endsWhen === 'tracks_gone' && state.everFed && state.following === 0 && !state.reconnecting ? { why: 'tracks gone' } : undefined;
}

/** After a participant left: a participant egress ends when its participant does. */
export function endAfterParticipantLeft(
  rules: Pick<SourceRules, 'endsWhen' | 'identity'>,
  identity: string,
  reconnecting: boolean,
): SourceEnd | undefined {
  return rules.endsWhen === 'participant_left' && identity === rules.identity && !reconnecting ? { why: `participant ${identity} left` } : undefined;
}

/** After a reconnection: the source is all there, so no grace period is needed. */
export function sourceBack(rules: Pick<SourceRules, 'present' | 'endsWhen'>, room: Room, following: number): boolean {
  return rules.present(room) && (rules.endsWhen !== 'tracks_gone' || following > 0);
}

/** At the end of the grace period after a reconnection: what is still missing ends the recording. */
export function endAfterGrace(rules: Pick<SourceRules, 'present' | 'missing' | 'endsWhen'>, room: Room, following: number): SourceEnd | undefined {
  if (!rules.present(room)) return { why: `${rules.missing(room)} after reconnecting` };
  if (rules.endsWhen === 'tracks_gone' && following === 0) return { why: 'tracks gone' };
  return undefined;
}
