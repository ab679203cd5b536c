/**
 * A StopEgress heard by a part after a takeover before its first frame is held until that frame (or for at most
 * the hold), so the part records to its first frame and the egress ends as a stop ends it; every other stop, and
 * every stop of a first part, goes through at once (workers/recording/held-stop.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { STOP_EGRESS_API } from '../../../shared/control.ts';
import { HeldStop } from '../../../workers/recording/held-stop.ts';

const stops = () => {
  const heard: string[] = [];
  return { heard, stop: (reason: string) => heard.push(reason) };
};

test('HeldStop: a later part holds a StopEgress until its first frame, then stops once', () => {
  const { heard, stop } = stops();
  const held = new HeldStop(true, stop, 60_000);
  held.request(STOP_EGRESS_API);
  held.request(STOP_EGRESS_API);
  assert.deepEqual(heard, [], 'held before the first frame');
  held.activated();
  assert.deepEqual(heard, [STOP_EGRESS_API]);
  held.request(STOP_EGRESS_API);
  assert.deepEqual(heard, [STOP_EGRESS_API, STOP_EGRESS_API], 'after the first frame a stop goes through at once');
  held.clear();
});

test('HeldStop: other stops, and every stop of a first part, go through at once', () => {
  const later = stops();
  const held = new HeldStop(true, later.stop, 60_000);
  held.request('Session limit reached');
  assert.deepEqual(later.heard, ['Session limit reached']);
  held.clear();
  const first = stops();
  new HeldStop(false, first.stop, 60_000).request(STOP_EGRESS_API);
  assert.deepEqual(first.heard, [STOP_EGRESS_API]);
});

test('HeldStop: a part with no first frame within the hold stops all the same; cleared, nothing fires', async () => {
  const { heard, stop } = stops();
  const held = new HeldStop(true, stop, 50);
  held.request(STOP_EGRESS_API);
  await sleep(150);
  assert.deepEqual(heard, [STOP_EGRESS_API]);
  held.request(STOP_EGRESS_API);
  assert.deepEqual(heard, [STOP_EGRESS_API, STOP_EGRESS_API], 'past the hold, stops go through');

  const cleared = stops();
  const never = new HeldStop(true, cleared.stop, 50);
  never.request(STOP_EGRESS_API);
  never.clear();
  await sleep(150);
  assert.deepEqual(cleared.heard, []);
});
