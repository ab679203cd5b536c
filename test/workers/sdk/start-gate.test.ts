/**
 * When an SDK recording starts (workers/sdk/start-gate.ts): at the first media of every unmuted track it
 * follows, not waiting long for a late one, not forever on muted ones, and never with nothing to follow.
 * The e2e tests (participant-egress, track-composite, room-composite-audio) check the files it leads to.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { NOTHING_GRACE_MS, OTHERS_GRACE_MS, StartGate, type StartReason } from '../../../workers/sdk/start-gate.ts';

/** A gate following these tracks (sid → muted). */
function gateFollowing(tracks: Record<string, boolean>): StartGate {
  const gate = new StartGate();
  for (const [sid, muted] of Object.entries(tracks)) gate.follow(sid, muted);
  return gate;
}

/** What the gate said by now ('closed' while it has not opened). */
async function state(gate: StartGate): Promise<StartReason | 'closed'> {
  return Promise.race([gate.ready, new Promise<'closed'>((resolve) => setImmediate(() => resolve('closed')))]);
}

describe('start gate', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  test('opens once every unmuted track it follows has delivered', async () => {
    const gate = gateFollowing({ TR_audio: false, TR_video: false });
    gate.delivered('TR_audio');
    assert.equal(await state(gate), 'closed', 'the video has not delivered');
    gate.delivered('TR_video');
    assert.equal(await state(gate), 'all tracks');
  });

  test('does not wait for a muted track, but for one unmuted before it opens', async () => {
    const muted = gateFollowing({ TR_audio: false, TR_video: true });
    muted.delivered('TR_audio');
    assert.equal(await state(muted), 'all tracks');

    const unmuted = gateFollowing({ TR_audio: false, TR_video: true });
    unmuted.muted('TR_video', false);
    unmuted.delivered('TR_audio');
    assert.equal(await state(unmuted), 'closed', 'the unmuted video has not delivered');
    unmuted.delivered('TR_video');
    assert.equal(await state(unmuted), 'all tracks');
  });

  test('a track that does not deliver holds the others back OTHERS_GRACE_MS at most', async () => {
    const gate = gateFollowing({ TR_audio: false, TR_video: false });
    gate.delivered('TR_audio');
    mock.timers.tick(OTHERS_GRACE_MS - 1);
    assert.equal(await state(gate), 'closed');
    mock.timers.tick(1);
    assert.equal(await state(gate), 'first track, others late');
  });

  test('a track gone before delivering is not waited for', async () => {
    const gate = gateFollowing({ TR_audio: false, TR_video: false });
    gate.delivered('TR_audio');
    gate.gone('TR_video');
    assert.equal(await state(gate), 'all tracks');
  });

  test('tracks all muted: opens after NOTHING_GRACE_MS; nothing followed: stays closed', async () => {
    const muted = gateFollowing({ TR_audio: true });
    const empty = new StartGate();
    mock.timers.tick(NOTHING_GRACE_MS - 1);
    assert.equal(await state(muted), 'closed');
    mock.timers.tick(1);
    assert.equal(await state(muted), 'tracks muted');
    mock.timers.tick(60_000);
    assert.equal(await state(empty), 'closed');
  });

  test('close() stops its timers: a recording stopped before its media never opens it', async () => {
    const gate = gateFollowing({ TR_audio: true });
    gate.close();
    mock.timers.tick(NOTHING_GRACE_MS);
    assert.equal(await state(gate), 'closed');
  });
});
