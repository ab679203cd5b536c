/**
 * A Redis read shared by every caller for a few seconds, so that scrapers and health probes, however many
 * and however frequent, cost Redis one read per period.
 */
import { within } from './time-limit.ts';

export interface CachedReadOptions {
  /** How long a successful result is reused. */
  maxAgeMs: number;
  /** How long a caller waits for a fresh result before giving up. */
  timeoutMs: number;
  /** Names the read in timeout errors. */
  what: string;
}

export function cachedRead<T>(read: () => Promise<T>, options: CachedReadOptions): () => Promise<T> {
  let value: { result: T; at: number } | undefined;
  // One read at a time: while Redis is away, callers wait on the same pending read instead of piling
  // more commands into the client's offline queue. Failures are not cached: the next caller tries again.
  let pending: Promise<T> | undefined;
  return () => {
    if (value && Date.now() - value.at < options.maxAgeMs) return Promise.resolve(value.result);
    pending ??= read()
      .then((result) => {
        value = { result, at: Date.now() };
        return result;
      })
      .finally(() => (pending = undefined));
    return within(pending, options.timeoutMs, options.what);
  };
}
