/** What stopped streams mean for an egress (workers/recording/stream-failure.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EgressError } from '../../../shared/errors.ts';
import { streamsStoppedEffect } from '../../../workers/recording/stream-failure.ts';

const error = new EgressError('EGR_ERR_UNAVAILABLE', 'rtmp refused');

test('beside other outputs, stopped streams change nothing', () => {
  assert.deepEqual(streamsStoppedEffect({ reason: 'removed' }, true), {});
  assert.deepEqual(streamsStoppedEffect({ reason: 'failed', error }, true), {});
});

test('a stream-only egress ends with its streams: gracefully when removed, FAILED when they failed', () => {
  assert.deepEqual(streamsStoppedEffect({ reason: 'removed' }, false), { stopReason: 'All streams stopped' });
  assert.deepEqual(streamsStoppedEffect({ reason: 'failed', error }, false), { stopReason: 'Failure', failure: error });
});
