/**
 * How a recording's end becomes the egress's: ABORTED when nothing was recorded (stopped, a limit, or the
 * source gone before the first frame), FAILED when the streams of a stream-only egress failed or the recorder
 * failed without a file to deliver, else ENDING with LiveKit's reason (`StopEgress API`, `Source closed`,
 * `Session limit reached`, …) and the terminal status the finalize job will set.
 */
import { EgressStatus } from '@livekit/protocol';
import type { EgressEnd } from '../../shared/egress-events.ts';
import { STOP_EGRESS_API } from '../../shared/control.ts';
import { ERRORS, type EgressError } from '../../shared/errors.ts';
import { STOP_BEFORE_START, type FinalizeJobData } from '../../shared/queues.ts';
import type { RecordingResult } from './recorder-contract.ts';

export interface EndFacts {
  result: Pick<RecordingResult, 'started' | 'end' | 'failure'>;
  /** The first reason the recording was asked to stop with (StopEgress, a drain, a limit, the streams). */
  stopReason: string | undefined;
  limitReached: boolean;
  /** The streams of a stream-only egress all failed (stream-failure.ts). */
  streamsFailure: EgressError | undefined;
  /** The plan has a file and the recorder finalized one: delivered even after a failure. */
  fileRecorded: boolean;
}

export type SessionEnd =
  /** The job fails with this error. */
  | { kind: 'failed'; error: EgressError }
  /** Nothing was recorded: the egress ends with this, and the job's outcome says why. */
  | { kind: 'aborted'; end: EgressEnd; outcome: string }
  /** Recorded: ENDING with this reason, then the finalize job sets `status`. */
  | { kind: 'ending'; reason: string; status: FinalizeJobData['status'] };

const aborted = (error: string, reason: string): EgressEnd => ({
  status: EgressStatus.EGRESS_ABORTED,
  error,
  errorCode: ERRORS.EGR_ERR_ABORTED_BEFORE_START.egressCode,
  reason,
});

const DEFAULT_STOP_REASON = STOP_EGRESS_API;

export function resolveEnd({ result, stopReason, limitReached, streamsFailure, fileRecorded }: EndFacts): SessionEnd {
  // Every stream of a stream-only egress failed: that is its end, started or not.
  if (streamsFailure) return { kind: 'failed', error: streamsFailure };
  if (!result.started) {
    if (result.end === 'end_signal')
      return { kind: 'aborted', end: aborted('Source closed before the recording started', 'Source closed'), outcome: 'source closed before start' };
    const why = limitReached ? 'Session limit reached before start signal' : STOP_BEFORE_START;
    return { kind: 'aborted', end: aborted(why, stopReason ?? DEFAULT_STOP_REASON), outcome: 'stopped before start' };
  }
  // A recording that failed after it started delivers its file, then ends FAILED.
  if (result.failure && !fileRecorded) return { kind: 'failed', error: result.failure };
  const reason = result.failure ? 'Failure' : result.end === 'end_signal' ? 'Source closed' : (stopReason ?? DEFAULT_STOP_REASON);
  return { kind: 'ending', reason, status: result.failure ? 'failed' : limitReached ? 'limit_reached' : 'complete' };
}
