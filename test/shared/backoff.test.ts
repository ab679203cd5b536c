/** The one exponential backoff (shared/backoff.ts): in-process waits double up to their cap; BullMQ's is told the same. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exponentialBackoff, jobBackoff } from '../../shared/backoff.ts';

test('Backoff/exponential: first, doubled per attempt, capped; attempt 0 or less waits the first step', () => {
  const wait = exponentialBackoff(100, 5000);
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 20].map(wait), [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
  assert.equal(wait(0), 100);
  // The warm pool's: 5 s doubling to a minute.
  assert.deepEqual([1, 2, 3, 4, 5].map(exponentialBackoff(5000, 60_000)), [5000, 10_000, 20_000, 40_000, 60_000]);
});

test("Backoff/job: BullMQ's exponential backoff from the given delay", () => {
  assert.deepEqual(jobBackoff(2000), { type: 'exponential', delay: 2000 });
});
