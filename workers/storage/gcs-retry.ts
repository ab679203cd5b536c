/**
 * LiveKit's GCP retry, for the GCS back-end (gcs.ts): up to 5 attempts, 100 ms ×2 capped at 5 s between them;
 * "retry always" (uploads are idempotent by key) but for an answer that cannot change.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { exponentialBackoff } from '../../shared/backoff.ts';
import { policyRefusal } from '../../shared/guarded-agents.ts';

const MAX_ATTEMPTS = 5;
const MIN_RETRY_DELAY_MS = 100;
const MAX_RETRY_DELAY_MS = 5000;
const retryDelay = exponentialBackoff(MIN_RETRY_DELAY_MS, MAX_RETRY_DELAY_MS);

/**
 * LiveKit's GCP retry: up to 5 attempts, waiting 100 ms, 200 ms, … (×2, at most 5 s) between them; every
 * failure is retried except a permanent one (a 4xx other than 408/429). `progressed()` says whether the
 * failed attempt moved the upload forward: then the count starts over.
 */
export async function withRetries<T>(
  attempt: () => Promise<T>,
  signal: AbortSignal | undefined,
  progressed: () => boolean,
  onRetry?: (failedAttempt: number, error: unknown) => void,
): Promise<T> {
  let failures = 0;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (signal?.aborted || !isRetryable(err as RetryableError)) throw err;
      failures = progressed() ? 1 : failures + 1;
      if (failures >= MAX_ATTEMPTS) throw err;
      onRetry?.(failures, err);
      const delay = retryDelay(failures);
      await sleep(delay, undefined, signal ? { signal } : {});
    }
  }
}

/** The fields SDK errors carry their HTTP status in (gaxios, teeny-request, the storage client). */
export interface RetryableError {
  code?: number | string;
  status?: number;
  message?: string;
  name?: string;
  response?: { status?: number };
}

/**
 * LiveKit retries every failure; only an HTTP answer that cannot change (400, 401, 403, 404, …) is final,
 * and so is a url_policy refusal.
 */
export function isRetryable(err: RetryableError | undefined): boolean {
  if (!err || policyRefusal(err)) return false;
  const status = statusOf(err);
  if (status !== undefined && status >= 400 && status < 500) return status === 408 || status === 429;
  return true;
}

/** The HTTP status an error reports, wherever its SDK put it. */
export function statusOf(err: RetryableError | undefined): number | undefined {
  if (!err) return undefined;
  return (
    err.response?.status ?? err.status ?? (typeof err.code === 'number' ? err.code : /^\d{3}$/.test(String(err.code)) ? Number(err.code) : undefined)
  );
}
