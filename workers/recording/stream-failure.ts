/**
 * What it means for an egress when every stream URL has stopped while recording: other outputs go on
 * without the streams; a stream-only egress ends with them — gracefully when they were all removed
 * (UpdateStream), FAILED with the streams' error when they failed (a refused key fails in milliseconds).
 */
import type { EgressError } from '../../shared/errors.ts';
import type { StreamsStopped } from '../streams/stream-fanout.ts';

export interface StreamsStoppedEffect {
  /** Stop the recording, with this reason. */
  stopReason?: string;
  /** The egress ends FAILED with this, whether the recording had started or not. */
  failure?: EgressError;
}

export function streamsStoppedEffect(stopped: StreamsStopped, otherOutputs: boolean): StreamsStoppedEffect {
  if (otherOutputs) return {};
  if (stopped.reason === 'removed') return { stopReason: 'All streams stopped' };
  return { stopReason: 'Failure', failure: stopped.error };
}
