/**
 * Runs a scan of what ffmpeg has written (a segment list, an image directory) on a timer: never two scans
 * at once, a failing scan logged and retried on the next tick, and one last scan once ffmpeg is done.
 */
import type { Logger } from 'pino';

/** Often enough that an output is announced within a quarter second of being complete; a stat or two a tick. */
export const POLL_INTERVAL_MS = 250;

export class Poller {
  readonly #scan: (final: boolean) => Promise<void>;
  readonly #log: Logger;
  readonly #timer: NodeJS.Timeout;
  #running: Promise<void> = Promise.resolve();
  #busy = false;
  #stopped = false;

  /** `scan(final)`: final is true for the last scan, after which nothing more will be written. */
  constructor(scan: (final: boolean) => Promise<void>, log: Logger, intervalMs = POLL_INTERVAL_MS) {
    this.#scan = scan;
    this.#log = log;
    this.#timer = setInterval(() => this.#tick(false), intervalMs);
    this.#timer.unref();
  }

  /** Stops the timer and waits for a scan under way; no last scan. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#running;
  }

  /** Stops, then scans one last time: whatever is left is reported before this resolves. */
  async finish(): Promise<void> {
    await this.stop();
    await this.#run(true);
  }

  #tick(final: boolean): void {
    // A slow scan (a busy disk) is not piled up behind.
    if (this.#stopped || this.#busy) return;
    void this.#run(final);
  }

  #run(final: boolean): Promise<void> {
    this.#busy = true;
    this.#running = this.#running
      .then(() => this.#scan(final))
      .catch((err: unknown) => this.#log.warn({ err }, 'scanning the capture outputs failed'))
      .finally(() => (this.#busy = false));
    return this.#running;
  }
}
