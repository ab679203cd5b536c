/**
 * The audio of an SDK recording as the capture wants it: s16le 48 kHz stereo, 10 ms every 10 ms on the
 * wall clock, written to ffmpeg's raw audio pipe from start() on (tracks may be added and fed before). Each
 * chunk is the sum of every playing track's next 10 ms (clipped), silence when nothing plays. A track plays
 * into both channels, or, downmixed, into one (LiveKit's dual-channel room composite mixing).
 *
 * Each track has a small jitter buffer: it starts (and, after running dry, restarts) once PREBUFFER_MS
 * have arrived, and is cut back to that when more than MAX_BUFFERED_MS piles up, so its latency stays
 * bounded and close to the video's.
 */
import type { Writable } from 'node:stream';
import { RAW_AUDIO_CHANNELS, RAW_AUDIO_RATE } from '../capture/ffmpeg-args.ts';
import { startTicker, type Ticker } from './wall-clock.ts';

export const CHUNK_MS = 10;
const PREBUFFER_MS = 20;
const MAX_BUFFERED_MS = 60;
/** Before start() nothing is taken: what a track received beyond this long ago is dropped as it comes. */
const MAX_BEFORE_START_MS = 1000;
const samplesIn = (ms: number) => (RAW_AUDIO_RATE * ms * RAW_AUDIO_CHANNELS) / 1000;
const CHUNK_SAMPLES = samplesIn(CHUNK_MS);

export type AudioChannel = 'both' | 'left' | 'right';

/** One track's input to the mix. */
export interface MixerInput {
  /** Interleaved s16 48 kHz stereo, as received. */
  push(samples: Int16Array): void;
  /** A muted track is silent (and what it had buffered is dropped). */
  setMuted(muted: boolean): void;
  remove(): void;
}

class TrackBuffer {
  readonly channel: AudioChannel;
  muted = false;
  playing = false;
  readonly #chunks: Int16Array[] = [];
  /** Samples already taken from #chunks[0]. */
  #offset = 0;
  #buffered = 0;

  constructor(channel: AudioChannel) {
    this.channel = channel;
  }

  push(samples: Int16Array): void {
    if (this.muted || samples.length === 0) return;
    this.#chunks.push(samples);
    this.#buffered += samples.length;
    if (this.#buffered > samplesIn(MAX_BEFORE_START_MS)) this.#skip(this.#buffered - samplesIn(MAX_BUFFERED_MS));
  }

  clear(): void {
    this.#chunks.length = 0;
    this.#offset = 0;
    this.#buffered = 0;
    this.playing = false;
  }

  /** Adds its next chunk into `mix` (CHUNK_SAMPLES interleaved stereo), if it is playing. */
  mixInto(mix: Int32Array): void {
    if (this.muted) return;
    if (!this.playing) {
      if (this.#buffered < samplesIn(PREBUFFER_MS)) return;
      this.playing = true;
    }
    if (this.#buffered > samplesIn(MAX_BUFFERED_MS)) this.#skip(this.#buffered - samplesIn(PREBUFFER_MS));
    let at = 0;
    while (at < CHUNK_SAMPLES && this.#chunks.length > 0) {
      const chunk = this.#chunks[0]!;
      const n = Math.min(CHUNK_SAMPLES - at, chunk.length - this.#offset);
      for (let i = 0; i < n; i += 2) {
        const l = chunk[this.#offset + i]!;
        const r = chunk[this.#offset + i + 1]!;
        const k = at + i;
        if (this.channel === 'both') {
          mix[k] = mix[k]! + l;
          mix[k + 1] = mix[k + 1]! + r;
        } else {
          const side = k + (this.channel === 'left' ? 0 : 1);
          mix[side] = mix[side]! + ((l + r) >> 1);
        }
      }
      at += n;
      this.#take(n);
    }
    // Ran dry: silent until it has a prebuffer again.
    if (at < CHUNK_SAMPLES) this.playing = false;
  }

  #skip(samples: number): void {
    // Whole stereo frames only.
    let left = samples - (samples % 2);
    while (left > 0 && this.#chunks.length > 0) {
      const n = Math.min(left, this.#chunks[0]!.length - this.#offset);
      this.#take(n);
      left -= n;
    }
  }

  #take(n: number): void {
    this.#offset += n;
    this.#buffered -= n;
    if (this.#offset >= this.#chunks[0]!.length) {
      this.#chunks.shift();
      this.#offset = 0;
    }
  }
}

export class AudioMixer {
  readonly #tracks = new Set<TrackBuffer>();
  #ticker: Ticker | undefined;

  /** Writes to `pipe` from `t0` (performance.now() time) on. Once. */
  start(pipe: Writable, t0: number): void {
    this.#ticker ??= startTicker(t0, CHUNK_MS, () => this.#writeChunk(pipe));
  }

  add(channel: AudioChannel): MixerInput {
    const track = new TrackBuffer(channel);
    this.#tracks.add(track);
    return {
      push: (samples) => track.push(samples),
      setMuted: (muted) => {
        track.muted = muted;
        if (muted) track.clear();
      },
      remove: () => void this.#tracks.delete(track),
    };
  }

  /** 10 ms chunks written so far. */
  get chunks(): number {
    return this.#ticker?.count ?? 0;
  }

  stop(): void {
    this.#ticker?.stop();
  }

  #writeChunk(pipe: Writable): void {
    const mix = new Int32Array(CHUNK_SAMPLES);
    for (const track of this.#tracks) track.mixInto(mix);
    const out = Buffer.allocUnsafe(CHUNK_SAMPLES * 2);
    for (let i = 0; i < CHUNK_SAMPLES; i++) out.writeInt16LE(Math.max(-32768, Math.min(32767, mix[i]!)), i * 2);
    if (!pipe.writableEnded && !pipe.destroyed) pipe.write(out);
  }
}
