/**
 * The video of an SDK recording as the capture wants it: one I420 frame of the plan's size every
 * 1/framerate on the wall clock, written to ffmpeg's raw video pipe. Each is the latest frame received
 * (fitted to the size when it is first written), or black while there is none: before the first frame,
 * while the track is muted, and after it is gone until another one comes.
 */
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { EncodingPlan } from '../../shared/egress-plan.ts';
import { blackI420, fitI420, i420Bytes, type I420Size } from './i420-fit.ts';
import { startTicker, type Ticker } from './wall-clock.ts';

/** At most this much video waits for ffmpeg to take it; beyond, frames are dropped (and said so). */
const MAX_BEHIND_SEC = 2;

export interface I420Picture {
  data: Uint8Array;
  width: number;
  height: number;
}

export class FramePacer {
  readonly #pipe: Writable;
  readonly #size: I420Size;
  readonly #black: Buffer;
  readonly #maxBufferedBytes: number;
  readonly #log: Logger;
  readonly #ticker: Ticker;
  /** Received, not fitted yet. */
  #pending: I420Picture | undefined;
  #current: Buffer;
  #dropped = 0;

  /** Starts writing at `t0` (performance.now() time). */
  constructor(pipe: Writable, encoding: EncodingPlan, t0: number, log: Logger) {
    this.#pipe = pipe;
    this.#size = { width: encoding.width, height: encoding.height };
    this.#black = blackI420(this.#size);
    this.#current = this.#black;
    this.#maxBufferedBytes = i420Bytes(this.#size) * encoding.framerate * MAX_BEHIND_SEC;
    this.#log = log;
    this.#ticker = startTicker(t0, 1000 / encoding.framerate, () => this.#writeFrame());
  }

  /** The latest frame of the recorded track. */
  show(picture: I420Picture): void {
    this.#pending = picture;
  }

  /** Black from now on, until the next frame shown. */
  blank(): void {
    this.#pending = undefined;
    this.#current = this.#black;
  }

  /** Frames written and dropped so far. */
  get stats(): { written: number; dropped: number } {
    return { written: this.#ticker.count - this.#dropped, dropped: this.#dropped };
  }

  stop(): void {
    this.#ticker.stop();
  }

  #writeFrame(): void {
    if (this.#pending) {
      const { data, width, height } = this.#pending;
      this.#pending = undefined;
      this.#current = fitI420(data, { width, height }, this.#size);
    }
    if (this.#pipe.writableEnded || this.#pipe.destroyed) return;
    if (this.#pipe.writableLength > this.#maxBufferedBytes) {
      if (this.#dropped++ % 100 === 0) this.#log.warn({ dropped: this.#dropped }, `the encoder is more than ${MAX_BEHIND_SEC} s behind; dropping video frames`);
      return;
    }
    this.#pipe.write(this.#current);
  }
}
