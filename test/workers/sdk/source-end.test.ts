/**
 * When an SDK recording's source is over (workers/sdk/source-end.ts), rule by rule: a room closed or a connection
 * lost, the tracks of a track egress gone, the participant of a participant egress gone, and after a
 * reconnection what is still missing once the grace period is over. Nothing ends while reconnecting.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DisconnectReason, type Room } from '@livekit/rtc-node';
import { disconnectedEnd, endAfterGrace, endAfterParticipantLeft, endAfterTrackGone, sourceBack } from '../../../workers/sdk/source-end.ts';
import type { SourceRules } from '../../../workers/sdk/source-rules.ts';

const room = {} as Room;
const rules = (endsWhen: SourceRules['endsWhen'], present = true): Pick<SourceRules, 'endsWhen' | 'present' | 'missing' | 'identity'> => ({
  endsWhen,
  present: () => present,
  missing: () => 'participant alice not found',
  identity: 'alice',
});

test('SourceEnd/disconnected: the room closed or deleted ends it; anything else is a lost connection', () => {
  assert.deepEqual(disconnectedEnd(DisconnectReason.ROOM_CLOSED), { why: 'room closed' });
  assert.deepEqual(disconnectedEnd(DisconnectReason.ROOM_DELETED), { why: 'room closed' });
  assert.deepEqual(disconnectedEnd(DisconnectReason.SIGNAL_CLOSE), { why: 'connection to room failed (SIGNAL_CLOSE)', lost: true });
});

test('SourceEnd/tracks gone: a track egress that followed tracks and follows none, not while reconnecting', () => {
  const state = { everFed: true, following: 0, reconnecting: false };
  assert.deepEqual(endAfterTrackGone(rules('tracks_gone'), state), { why: 'tracks gone' });
  assert.equal(endAfterTrackGone(rules('tracks_gone'), { ...state, reconnecting: true }), undefined);
  assert.equal(endAfterTrackGone(rules('tracks_gone'), { ...state, following: 1 }), undefined);
  assert.equal(endAfterTrackGone(rules('tracks_gone'), { ...state, everFed: false }), undefined);
  assert.equal(endAfterTrackGone(rules('participant_left'), state), undefined);
});

test('SourceEnd/participant left: its own participant, not while reconnecting', () => {
  assert.deepEqual(endAfterParticipantLeft(rules('participant_left'), 'alice', false), { why: 'participant alice left' });
  assert.equal(endAfterParticipantLeft(rules('participant_left'), 'bob', false), undefined);
  assert.equal(endAfterParticipantLeft(rules('participant_left'), 'alice', true), undefined);
  assert.equal(endAfterParticipantLeft(rules('room_closed'), 'alice', false), undefined);
});

test('SourceEnd/reconnected: back at once, or what is missing after the grace period', () => {
  assert.equal(sourceBack(rules('participant_left'), room, 0), true);
  assert.equal(sourceBack(rules('tracks_gone'), room, 0), false);
  assert.equal(sourceBack(rules('tracks_gone'), room, 2), true);
  assert.equal(sourceBack(rules('participant_left', false), room, 1), false);
  assert.deepEqual(endAfterGrace(rules('participant_left', false), room, 0), { why: 'participant alice not found after reconnecting' });
  assert.deepEqual(endAfterGrace(rules('tracks_gone'), room, 0), { why: 'tracks gone' });
  assert.equal(endAfterGrace(rules('tracks_gone'), room, 1), undefined);
  assert.equal(endAfterGrace(rules('room_closed'), room, 0), undefined);
});
