/**
 * How a recording's end becomes the egress's (workers/recording/end-reason.ts): ABORTED before the first frame,
 * FAILED for failed streams of a stream-only egress or a failure with nothing to deliver, else ENDING with
 * LiveKit's reason and the terminal status the finalize job sets.
 */
import { EgressStatus } from '@livekit/protocol';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EgressError, ERRORS } from '../../../shared/errors.ts';
import { STOP_BEFORE_START } from '../../../shared/queues.ts';
import { resolveEnd, type EndFacts } from '../../../workers/recording/end-reason.ts';

const facts = (over: Partial<Omit<EndFacts, 'result'>> & { result?: Partial<EndFacts['result']> } = {}): EndFacts => ({
  stopReason: undefined,
  limitReached: false,
  streamsFailure: undefined,
  fileRecorded: true,
  ...over,
  result: { started: true, end: 'stopped', ...over.result },
});

describe('end reason', () => {
  test('stopped while recording: ENDING with the stop reason, else StopEgress API; complete', () => {
    assert.deepEqual(resolveEnd(facts({ stopReason: 'Drain' })), { kind: 'ending', reason: 'Drain', status: 'complete' });
    assert.deepEqual(resolveEnd(facts()), { kind: 'ending', reason: 'StopEgress API', status: 'complete' });
  });

  test('END_RECORDING: Source closed; a limit: limit_reached', () => {
    assert.deepEqual(resolveEnd(facts({ result: { end: 'end_signal' } })), { kind: 'ending', reason: 'Source closed', status: 'complete' });
    assert.deepEqual(resolveEnd(facts({ stopReason: 'Session limit reached', limitReached: true })), {
      kind: 'ending',
      reason: 'Session limit reached',
      status: 'limit_reached',
    });
  });

  test('a failure after the start: its file is delivered and the egress fails; without a file the job fails', () => {
    const failure = new EgressError('EGR_ERR_UNAVAILABLE', 'recording ended early');
    assert.deepEqual(resolveEnd(facts({ result: { failure } })), { kind: 'ending', reason: 'Failure', status: 'failed' });
    assert.deepEqual(resolveEnd(facts({ result: { failure }, fileRecorded: false })), { kind: 'failed', error: failure });
  });

  test('the streams of a stream-only egress failed: the job fails, started or not', () => {
    const error = new EgressError('EGR_ERR_UNAVAILABLE', 'refused');
    assert.deepEqual(resolveEnd(facts({ streamsFailure: error })), { kind: 'failed', error });
    assert.deepEqual(resolveEnd(facts({ streamsFailure: error, result: { started: false } })), { kind: 'failed', error });
  });

  test('nothing recorded: ABORTED, saying why', () => {
    const code = ERRORS.EGR_ERR_ABORTED_BEFORE_START.egressCode;
    assert.deepEqual(resolveEnd(facts({ result: { started: false, end: 'end_signal' } })), {
      kind: 'aborted',
      end: { status: EgressStatus.EGRESS_ABORTED, error: 'Source closed before the recording started', errorCode: code, reason: 'Source closed' },
      outcome: 'source closed before start',
    });
    assert.deepEqual(resolveEnd(facts({ result: { started: false } })), {
      kind: 'aborted',
      end: { status: EgressStatus.EGRESS_ABORTED, error: STOP_BEFORE_START, errorCode: code, reason: 'StopEgress API' },
      outcome: 'stopped before start',
    });
    const limited = resolveEnd(facts({ result: { started: false }, limitReached: true, stopReason: 'Session limit reached' }));
    assert.ok(limited.kind === 'aborted');
    assert.equal(limited.end.error, 'Session limit reached before start signal');
    assert.equal(limited.end.reason, 'Session limit reached');
  });
});
