/**
 * When an SDK recording starts: at the source's first real media, so that the file opens on the
 * participant, not on black and silence, and ACTIVE and started_at are that moment. Every track the
 * recording follows and that is not muted must have delivered (a decoded frame, audio samples); one that is
 * slow to deliver holds the others back at most OTHERS_GRACE_MS. Followed tracks that deliver nothing (all
 * muted) start it anyway after NOTHING_GRACE_MS, as the built-in template does: then black and silence are
 * what the source shows. With nothing to follow (a participant that publishes nothing yet) it waits.
 */
export const OTHERS_GRACE_MS = 1000;
export const NOTHING_GRACE_MS = 5000;

export type StartReason = 'all tracks' | 'first track, others late' | 'tracks muted';

export class StartGate {
  /** Resolves once the recording may start, with why. */
  readonly ready: Promise<StartReason>;
  readonly #waiting = new Set<string>();
  readonly #timers: NodeJS.Timeout[] = [];
  #delivered = false;
  #followed = false;
  #open: (reason: StartReason) => void = () => {};
  #isOpen = false;

  constructor() {
    this.ready = new Promise((resolve) => (this.#open = resolve));
  }

  /** A track the recording follows, from now on. */
  follow(sid: string, muted: boolean): void {
    if (this.#isOpen) return;
    if (!muted) this.#waiting.add(sid);
    if (!this.#followed) {
      this.#followed = true;
      this.#after(NOTHING_GRACE_MS, 'tracks muted');
    }
  }

  /** A followed track muted (it is not waited for) or unmuted (it is). */
  muted(sid: string, muted: boolean): void {
    if (this.#isOpen) return;
    if (muted) this.#gone(sid);
    else this.#waiting.add(sid);
  }

  /** A followed track unpublished or unsubscribed. */
  gone(sid: string): void {
    this.#gone(sid);
  }

  /** The track's first frame or samples. */
  delivered(sid: string): void {
    if (this.#isOpen) return;
    this.#waiting.delete(sid);
    if (!this.#delivered) {
      this.#delivered = true;
      this.#after(OTHERS_GRACE_MS, 'first track, others late');
    }
    this.#check();
  }

  /** No more timers (the recording is over, started or not). */
  close(): void {
    this.#timers.forEach(clearTimeout);
  }

  #gone(sid: string): void {
    this.#waiting.delete(sid);
    this.#check();
  }

  #check(): void {
    if (this.#delivered && this.#waiting.size === 0) this.#start('all tracks');
  }

  #after(ms: number, reason: StartReason): void {
    this.#timers.push(setTimeout(() => this.#start(reason), ms));
  }

  #start(reason: StartReason): void {
    if (this.#isOpen) return;
    this.#isOpen = true;
    this.close();
    this.#open(reason);
  }
}
