/**
 * A periodic task on the wall clock: period n is due at `t0 + n × periodMs` (performance.now() time), and
 * every period that has come due is run, in order, at each wake-up, so a late timer (a busy event loop)
 * is caught up rather than dropped. What two tickers with one t0 produce by period count lines up in time:
 * that is what keeps the frames and the audio written to the capture in sync.
 */
export interface Ticker {
  /** Periods run so far. */
  readonly count: number;
  stop(): void;
}

export function startTicker(t0: number, periodMs: number, run: (period: number) => void): Ticker {
  let count = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const wake = () => {
    if (stopped) return;
    const due = Math.floor((performance.now() - t0) / periodMs) + 1;
    while (count < due && !stopped) run(count++);
    // Wake up when the next period is due.
    timer = setTimeout(wake, Math.max(1, t0 + count * periodMs - performance.now()));
  };
  wake();
  return {
    get count() {
      return count;
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
