/**
 * The video of an SDK recording as the capture wants it: one I420 frame of the plan's size every
 * 1/framerate on the wall clock, written to ffmpeg's raw video pipe from start() on. Each is the latest
 * frame received at least `holdBack` ms ago (fitted to the size when it is first written), or black while
 * there is none: while the track is muted, and after it is gone until another one comes. Frames shown
 * before start() wait for it (the recording starts at its first frame: start-gate.ts). The hold is lip
 * sync: it delays the picture as long as the sound of the same moment arrives after it.
 */
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { EncodingPlan } from '../../shared/egress-plan.ts';
import { blackI420, fitI420, i420Bytes, type I420Size } from './i420-fit.ts';
import { startTicker, type Ticker } from './wall-clock.ts';

/** At most this much video waits for ffmpeg to take it; beyond, frames are dropped (and said so). */
const MAX_BEHIND_SEC = 2;
/** The longest a frame is held back for lip sync, ms. */
export const MAX_HOLD_MS = 1000;

export interface I420Picture {
  data: Uint8Array;
  width: number;
  height: number;
}

export class FramePacer {
  readonly #size: I420Size;
  readonly #black: Buffer;
  readonly #maxBufferedBytes: number;
  readonly #log: Logger;
  readonly #framerate: number;
  #ticker: Ticker | undefined;
  /** Received, waiting for their hold to pass, oldest first. */
  readonly #held: { picture: I420Picture; at: number }[] = [];
  readonly #maxHeld: number;
  #holdMs = 0;
  /** Due, not fitted yet. */
  #pending: I420Picture | undefined;
  #current: Buffer;
  #dropped = 0;

  constructor(encoding: EncodingPlan, log: Logger) {
    this.#size = { width: encoding.width, height: encoding.height };
    this.#black = blackI420(this.#size);
    this.#current = this.#black;
    this.#maxBufferedBytes = i420Bytes(this.#size) * encoding.framerate * MAX_BEHIND_SEC;
    this.#log = log;
    this.#maxHeld = Math.ceil((encoding.framerate * MAX_HOLD_MS) / 1000) + 1;
    this.#framerate = encoding.framerate;
  }

  /** Writes to `pipe` from `t0` (performance.now() time) on. Once. */
  start(pipe: Writable, t0: number): void {
    this.#ticker ??= startTicker(t0, 1000 / this.#framerate, (period) => this.#writeFrame(pipe, period));
  }

  /** The latest frame of the recorded track, to be written once the hold has passed. */
  show(picture: I420Picture): void {
    this.#held.push({ picture, at: performance.now() });
    // A frame rate above the recording's: those that would never be written go now.
    if (this.#held.length > this.#maxHeld) this.#held.shift();
  }

  /** How long each frame waits before it is written, ms (0 to MAX_HOLD_MS). */
  holdBack(ms: number): void {
    this.#holdMs = Math.min(MAX_HOLD_MS, Math.max(0, ms));
  }

  /** Black from now on, until the next frame shown. */
  blank(): void {
    this.#held.length = 0;
    this.#pending = undefined;
    this.#current = this.#black;
  }

  /** Frames written and dropped so far. */
  get stats(): { written: number; dropped: number } {
    return { written: (this.#ticker?.count ?? 0) - this.#dropped, dropped: this.#dropped };
  }

  stop(): void {
    this.#ticker?.stop();
  }

  #writeFrame(pipe: Writable, period: number): void {
    const due = performance.now() - this.#holdMs;
    while (this.#held.length > 0 && this.#held[0]!.at <= due) this.#pending = this.#held.shift()!.picture;
    // The recording opens on the source's picture, even if no frame has been held long enough yet.
    if (period === 0 && !this.#pending) this.#pending = this.#held[0]?.picture;
    if (this.#pending) {
      const { data, width, height } = this.#pending;
      this.#pending = undefined;
      this.#current = fitI420(data, { width, height }, this.#size);
    }
    if (pipe.writableEnded || pipe.destroyed) return;
    if (pipe.writableLength > this.#maxBufferedBytes) {
      if (this.#dropped++ % 100 === 0)
        this.#log.warn({ dropped: this.#dropped }, `the encoder is more than ${MAX_BEHIND_SEC} s behind; dropping video frames`);
      return;
    }
    pipe.write(this.#current);
  }
}
