/**
 * The time by which a shutdown step must be done, so that no step can hold an exit forever (a Redis that is
 * gone, a job that never ends). None until set; `within` sets it or brings it forward, never back. A wait
 * cut short by it is logged, naming what was not waited for.
 */
import type { Logger } from 'pino';

export class Deadline {
  #at = Infinity;
  #timer: NodeJS.Timeout | undefined;
  #pass: () => void = () => undefined;
  readonly #passed = new Promise<void>((resolve) => (this.#pass = resolve));

  /** The deadline is `ms` from now, unless it is sooner already. */
  within(ms: number): void {
    const at = Date.now() + ms;
    if (at >= this.#at) return;
    this.#at = at;
    clearTimeout(this.#timer);
    // Nothing to keep the process alive for: a process that has nothing else to do is done anyway.
    this.#timer = setTimeout(this.#pass, Math.max(0, ms)).unref();
  }

  /** Milliseconds left (Infinity while none is set; 0 once passed). */
  remainingMs(): number {
    return Math.max(0, this.#at - Date.now());
  }

  /** Resolves when the deadline passes. */
  get passed(): Promise<void> {
    return this.#passed;
  }

  /**
   * Waits for `step` (settled either way: a step that failed is over too) until the deadline, or until
   * `unless` resolves with the reason it can never finish (Redis gone). False if it was not waited out.
   */
  async wait(step: Promise<unknown>, what: string, log: Logger, unless?: Promise<string>): Promise<boolean> {
    const done = step.then(
      () => true,
      (err: unknown) => {
        log.warn({ err: (err as Error)?.message ?? String(err) }, `shutdown: ${what} failed`);
        return true;
      },
    );
    const outOfTime = this.#passed.then(() => 'out of time');
    const outcome = await Promise.race([done, outOfTime, ...(unless ? [unless] : [])]);
    if (outcome === true) return true;
    log.warn({ step: what, why: outcome }, `shutdown: not waiting any longer for ${what}: ${outcome}`);
    return false;
  }
}
