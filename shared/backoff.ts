/**
 * The one exponential backoff of the service. In-process retries (the warm pool, the GCS and S3 upload
 * attempts) wait `exponentialBackoff(firstMs, maxMs)(attempt)`: first, twice that, four times, … capped.
 * Jobs retried by BullMQ say the same with `jobBackoff(delayMs)`, which BullMQ computes as delay × 2^(n-1).
 */
import type { BackoffOptions } from 'bullmq';

/** The wait before retry number `attempt` (1-based): `firstMs × 2^(attempt-1)`, at most `maxMs`. */
export function exponentialBackoff(firstMs: number, maxMs: number): (attempt: number) => number {
  return (attempt) => Math.min(maxMs, firstMs * 2 ** Math.max(0, attempt - 1));
}

/** BullMQ's exponential backoff, starting at `delayMs`: for a job's `backoff` option. */
export function jobBackoff(delayMs: number): BackoffOptions & { type: 'exponential'; delay: number } {
  return { type: 'exponential', delay: delayMs };
}
