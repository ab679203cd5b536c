/**
 * The calls of a job processor still running. BullMQ's Worker.close waits for them and then for Redis to
 * record each job's end; with Redis gone that second part never comes, so a shutdown waits for the
 * processors themselves here.
 */
export class InFlight {
  #running = 0;
  #waiters: (() => void)[] = [];

  /** `processor`, counted while it runs. */
  track<A extends unknown[], R>(processor: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
    return async (...args: A) => {
      this.#running += 1;
      try {
        return await processor(...args);
      } finally {
        this.#running -= 1;
        if (this.#running === 0) for (const wake of this.#waiters.splice(0)) wake();
      }
    };
  }

  /** Resolves once no call is running (at once if none is). */
  idle(): Promise<void> {
    return this.#running === 0 ? Promise.resolve() : new Promise((resolve) => this.#waiters.push(resolve));
  }
}
