/**
 * Writes encoded samples, as they are, into a crash-safe file with mediabunny (in-process, no transcoding):
 * H.264 in Matroska, VP8/VP9 in WebM, Opus in Ogg. Samples come in decode order with their own timestamps;
 * each is written once the next one gives its duration, so every sample lasts exactly until the next.
 *
 * Crash-safe: every sample is on disk (in the kernel's hands: a killed process loses nothing) as soon as
 * the next one comes, and a file cut anywhere plays up to its cut. Matroska and WebM are written append-only
 * (a Segment and Clusters of unknown size, nothing ever rewritten), Ogg in pages of at most a second, and
 * nothing is gathered in memory first (the file target writes each flush at once). Why not fragmented MP4:
 * mediabunny starts a fragment only at a keyframe and holds the fragment in memory until then, and a WebRTC
 * publisher sends keyframes when asked (PLI), often never after the first: one fragment for the whole
 * recording. The caller remuxes the Matroska into the MP4 users get (ffmpeg -c copy, index up front) and
 * the WebM into one with its duration and cues, as the web recorder does with its fragmented MP4.
 */
import {
  EncodedAudioPacketSource,
  EncodedPacket,
  EncodedVideoPacketSource,
  FilePathTarget,
  MkvOutputFormat,
  OggOutputFormat,
  Output,
  WebMOutputFormat,
} from 'mediabunny';
import { opusHead, type PassthroughCodec } from './codecs.ts';

export interface WriterSample {
  data: Uint8Array;
  keyframe: boolean;
  /** Seconds from the start of the file. */
  timestampSec: number;
}

export interface VideoDescription {
  codecString: string;
  width: number;
  height: number;
}

/** The crash-safe container each codec is recorded in (capture.<extension>). */
export const CAPTURE_EXTENSION: Record<PassthroughCodec, 'mkv' | 'webm' | 'ogg'> = { avc: 'mkv', vp8: 'webm', vp9: 'webm', opus: 'ogg' };

/** Longest an Ogg page waits for more packets before it is written (Opus at 32 kb/s fills 8 KiB in 2 s). */
const MAX_OGG_PAGE_SEC = 0.5;

/** Duration of the last sample, which no next sample bounds. */
const LAST_VIDEO_SEC = 1 / 30;

export class ContainerWriter {
  private readonly output: Output;
  private readonly codec: PassthroughCodec;
  private readonly video?: EncodedVideoPacketSource;
  private readonly audio?: EncodedAudioPacketSource;
  private readonly started: Promise<void>;
  private chain: Promise<void>;
  private held?: WriterSample;
  private lastDurationSec = LAST_VIDEO_SEC;
  private first = true;
  private description?: VideoDescription;
  private readonly channels: 1 | 2;
  private failure?: Error;
  samples = 0;
  /** End of the last written sample, seconds. */
  durationSec = 0;

  constructor(path: string, codec: PassthroughCodec, options: { channels?: 1 | 2 } = {}) {
    this.codec = codec;
    this.channels = options.channels ?? 2;
    const format =
      codec === 'avc'
        ? new MkvOutputFormat({ appendOnly: true })
        : codec === 'opus'
          ? new OggOutputFormat({ maximumPageDuration: MAX_OGG_PAGE_SEC })
          : new WebMOutputFormat({ appendOnly: true });
    // Not chunked (FilePathTarget's default gathers 16 MiB in memory before writing): every flush is written.
    this.output = new Output({ format, target: new FilePathTarget(path, { chunked: false }) });
    if (codec === 'opus') {
      this.audio = new EncodedAudioPacketSource('opus');
      this.output.addAudioTrack(this.audio);
    } else {
      this.video = new EncodedVideoPacketSource(codec);
      this.output.addVideoTrack(this.video, { frameRate: undefined });
    }
    this.started = this.output.start();
    this.chain = this.started;
    this.chain.catch((err: Error) => (this.failure ??= err));
  }

  /** Video: the first sample must be a keyframe, described by `description`. */
  write(sample: WriterSample, description?: VideoDescription): void {
    if (description) this.description ??= description;
    const previous = this.held;
    this.held = sample;
    if (!previous) return;
    const durationSec = Math.max(sample.timestampSec - previous.timestampSec, 0);
    if (durationSec > 0) this.lastDurationSec = this.codec === 'opus' ? durationSec : Math.min(durationSec, 0.5);
    this.enqueue(previous, durationSec);
  }

  /** Writes the last sample and finishes the file. */
  async finalize(): Promise<void> {
    if (this.held) this.enqueue(this.held, this.lastDurationSec);
    this.held = undefined;
    await this.chain;
    if (this.failure) throw this.failure;
    await this.output.finalize();
  }

  async cancel(): Promise<void> {
    await this.chain.catch(() => undefined);
    await this.output.cancel().catch(() => undefined);
  }

  private enqueue(sample: WriterSample, durationSec: number): void {
    const first = this.first;
    this.first = false;
    const packet = new EncodedPacket(sample.data, sample.keyframe ? 'key' : 'delta', sample.timestampSec, durationSec);
    this.samples += 1;
    this.durationSec = sample.timestampSec + durationSec;
    this.chain = this.chain.then(async () => {
      if (this.failure) return;
      if (this.audio) {
        await this.audio.add(
          packet,
          first
            ? { decoderConfig: { codec: 'opus', numberOfChannels: this.channels, sampleRate: 48_000, description: opusHead(this.channels) } }
            : undefined,
        );
        return;
      }
      const d = this.description;
      await this.video!.add(packet, first && d ? { decoderConfig: { codec: d.codecString, codedWidth: d.width, codedHeight: d.height } } : undefined);
    });
    this.chain.catch((err: Error) => (this.failure ??= err));
  }
}
