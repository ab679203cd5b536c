/**
 * What every recorder (page, SDK, track) shares around its steps: the Recording it hands out (a stop that
 * aborts once), waiting for a step unless the recording is stopped or a process it needs fails, and the
 * result of a recording that never started.
 */
import type { Logger } from 'pino';
import type { EgressError } from '../../shared/errors.ts';
import type { Recording, RecordingEnd, RecordingResult } from './recorder-contract.ts';

export const STOPPED = Symbol('stopped');

/** A Recording around `record`, whose signal aborts on the first stop(). */
export function recordingOf(log: Logger, what: string, record: (stopSignal: AbortSignal) => Promise<RecordingResult>): Recording {
  const stopper = new AbortController();
  const done = record(stopper.signal);
  // The caller awaits `done` later; a failure before then is not an unhandled rejection.
  done.catch(() => undefined);
  return {
    done,
    stop: (reason) => {
      if (stopper.signal.aborted) return;
      log.info({ reason }, `stopping the ${what}`);
      stopper.abort(reason);
    },
  };
}

/** Waits for `step` unless the recording is stopped first (→ STOPPED) or one of `failures` comes (→ throws it). */
export function untilStoppedOrFailed<T>(
  step: Promise<T>,
  stopSignal: AbortSignal,
  failures: readonly Promise<EgressError>[],
): Promise<T | typeof STOPPED> {
  const stopped = new Promise<typeof STOPPED>((resolve) => {
    if (stopSignal.aborted) resolve(STOPPED);
    stopSignal.addEventListener('abort', () => resolve(STOPPED), { once: true });
  });
  const failed = failures.map((failure) =>
    failure.then((error) => {
      throw error;
    }),
  );
  // `stopped` first: a stop that has already happened wins over a step that has already finished.
  return Promise.race([stopped, step, ...failed]);
}

/** Stopped (or the source gone) before the first frame: nothing was recorded. */
export function notStarted(end: RecordingEnd = 'stopped'): RecordingResult {
  const now = Date.now();
  return { started: false, end, startedAtMs: now, endedAtMs: now, stats: { frames: 0, duplicated: 0, dropped: 0 } };
}
