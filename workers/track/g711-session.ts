/**
 * Track egress of a G.711 track (PCMU, PCMA: what SIP participants publish) to a file, as LiveKit writes it:
 * Opus in Ogg. G.711 cannot go in an Ogg as it is, so, unlike the other codecs, it is transcoded: the RTP is
 * put in order (JitterBuffer), each packet decoded here (G.711 tables, 8 kHz mono 16-bit) and piped to
 * ffmpeg, which resamples to 48 kHz and encodes Opus (libopus) into the crash-safe capture (capture.ogg):
 * Ogg pages of at most 200 ms, each written out at once (`-flush_packets 1`), so a worker killed
 * mid-recording leaves an Ogg that plays up to the cut, which the salvage job remuxes as for Opus.
 * Gaps in the RTP timestamps (lost packets, a muted stretch) are filled with silence, so the file keeps the
 * wall-clock length, as the Opus path does with its filler packets.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { RtpPacket } from 'werift';
import { EgressError } from '../../shared/errors.ts';
import { describeExit, type SupervisedProcess, type Supervisor } from '../process/processes.ts';
import type { RecordingEnd, RecordingResult, RecordingStart } from '../recording/recorder-contract.ts';
import { decodeG711, type G711Law } from './codecs.ts';
import { announceCapture } from './capture-info.ts';
import { PayloadFilter } from './payload-filter.ts';
import { JitterBuffer, type RtpFrame } from './jitter-buffer.ts';
import type { ReceivedTrack, TrackSubscriber } from './track-subscriber.ts';

/** How long a hole may wait for its retransmission (as for Opus). */
const LATENCY_MS = 300;
/** Longest gap filled with silence (a longer jump in timestamps is a discontinuity). */
const MAX_FILL_SEC = 600;
/** Longest an Ogg page waits before it is written, microseconds. */
const PAGE_DURATION_US = 200_000;
/** How far ahead of the wall clock (since the first packet) a gap's silence may take the file. */
const MAX_AHEAD_MS = 200;
const OPUS_BITRATE = '32k';
const FINISH_TIMEOUT_MS = 15_000;

export interface G711SessionOptions {
  start: RecordingStart;
  received: ReceivedTrack;
  law: G711Law;
  subscriber: TrackSubscriber;
  supervisor: Supervisor;
  /** ffmpeg died mid-recording: the recording cannot go on. */
  onFailure: (err: EgressError) => void;
}

/** ffmpeg arguments: 16-bit 8 kHz mono PCM on stdin → Opus 48 kHz in a crash-safe Ogg. */
export function g711EncodeArgs(capturePath: string, clockRate: number): string[] {
  return [
    '-hide_banner',
    '-nostdin',
    '-v',
    'error',
    '-y',
    '-f',
    's16le',
    '-ar',
    String(clockRate),
    '-ac',
    '1',
    '-i',
    'pipe:0',
    '-c:a',
    'libopus',
    '-b:a',
    OPUS_BITRATE,
    '-ar',
    '48000',
    '-ac',
    '1',
    '-page_duration',
    String(PAGE_DURATION_US),
    '-flush_packets',
    '1',
    '-f',
    'ogg',
    capturePath,
  ];
}

/** One received G.711 track being transcoded to its Ogg. */
export class G711FileSession {
  private readonly options: G711SessionOptions;
  private readonly capturePath: string;
  private readonly encoder: SupervisedProcess;
  private readonly jitter: JitterBuffer;
  private readonly timer: NodeJS.Timeout;
  private readonly clockRate: number;
  private finishing = false;
  private sawRtp = false;
  private firstTimestamp?: number;
  /** Where the next packet should start (RTP clock, unwrapped). */
  private expectedTimestamp?: number;
  private startedAtMs?: number;
  private packets = 0;
  private samples = 0;
  private silentSamples = 0;
  /** Silence not written because the timestamps jumped ahead of the wall clock. */
  private clampedSamples = 0;
  private dropped = 0;
  private lost = 0;
  private readonly filter: PayloadFilter;

  constructor(options: G711SessionOptions) {
    this.options = options;
    const { start, received } = options;
    this.clockRate = received.codec.clockRate || 8000;
    this.capturePath = join(start.workDir, 'capture.ogg');
    this.encoder = options.supervisor.spawn('ffmpeg-g711', start.settings.ffmpegPath, g711EncodeArgs(this.capturePath, this.clockRate));
    void this.encoder.exited.then((exit) => {
      if (!this.finishing)
        options.onFailure(new EgressError('EGR_ERR_ENCODER_FAILED', `the Opus encoder stopped: ${describeExit(exit, this.encoder)}`));
    });
    announceCapture(start.workDir, { fileType: 'ogg', namingVars: options.subscriber.namingVars() }, start.log);
    this.jitter = new JitterBuffer({
      kind: 'audio',
      latencyMs: LATENCY_MS,
      onFrame: (frame) => this.onFrame(frame),
      onLoss: (count) => (this.lost += count),
    });
    this.filter = new PayloadFilter(received.codec.payloadType, start.log);
    received.track.onReceiveRtp.subscribe((rtp) => this.onRtp(rtp));
    this.timer = setInterval(() => this.jitter.tick(), 100);
    start.log.info({ codec: received.codec.mimeType, clockRate: this.clockRate, fileType: 'ogg' }, 'recording the G.711 track as Opus');
  }

  async finish(end: RecordingEnd): Promise<RecordingResult> {
    clearInterval(this.timer);
    this.jitter.flush();
    this.finishing = true;
    const { start } = this.options;
    const endedAtMs = Date.now();
    const stats = { frames: this.packets, duplicated: 0, dropped: this.dropped };
    start.log.info(
      {
        ...stats,
        lostPackets: this.lost,
        seconds: this.samples / this.clockRate,
        silenceSeconds: this.silentSamples / this.clockRate,
        notFilledSeconds: this.clampedSamples / this.clockRate,
        wrongPayloadType: this.filter.wrongPayloadType,
      },
      'G.711 track recording finished',
    );
    this.encoder.child.stdin?.end();
    if (this.startedAtMs === undefined) {
      await this.encoder.kill();
      return { started: false, end, startedAtMs: endedAtMs, endedAtMs, stats };
    }
    let timeout: ReturnType<typeof setTimeout> | undefined;
    const exit = await Promise.race([
      this.encoder.exited,
      new Promise<undefined>((resolve) => (timeout = setTimeout(() => resolve(undefined), FINISH_TIMEOUT_MS))),
    ]);
    clearTimeout(timeout);
    if (!exit) await this.encoder.kill();
    if (!exit || exit.code !== 0) {
      throw new EgressError(
        'EGR_ERR_ENCODER_FAILED',
        `cannot write the ogg file: ${exit ? describeExit(exit, this.encoder) : 'the Opus encoder did not finish'}`,
      );
    }
    const { size } = await stat(this.capturePath);
    return {
      started: true,
      end,
      startedAtMs: this.startedAtMs,
      endedAtMs,
      file: { path: this.capturePath, sizeBytes: size, fileType: 'ogg' },
      namingVars: this.options.subscriber.namingVars(),
      stats,
    };
  }

  async cancel(): Promise<void> {
    clearInterval(this.timer);
    this.finishing = true;
    await this.encoder.kill();
  }

  private onRtp(rtp: RtpPacket): void {
    if (!this.filter.accepts(rtp)) return;
    if (!this.sawRtp) {
      this.sawRtp = true;
      this.options.start.log.info('first RTP packet');
    }
    this.jitter.push(rtp);
  }

  private onFrame(frame: RtpFrame): void {
    if (this.finishing) return;
    const packet = frame.packets[0]!;
    let pcm = decodeG711(this.options.law, packet.payload);
    let timestamp = frame.timestamp;
    if (this.firstTimestamp === undefined) {
      this.firstTimestamp = timestamp;
      this.startedAtMs = Date.now();
      this.options.start.onActive(this.startedAtMs, this.options.subscriber.namingVars().roomId);
    } else if (this.expectedTimestamp !== undefined) {
      const gap = timestamp - this.expectedTimestamp;
      if (gap > 0 && gap <= MAX_FILL_SEC * this.clockRate) {
        // Lost packets or a muted stretch: silence, so the file keeps the wall-clock length. But never past
        // the wall clock: the SFU sends a blank frame as the track closes whose timestamp jumps ahead (0.85 s
        // measured with livekit-server 1.13.5); packets are late (jitter), never early, so such a jump is
        // a re-timing, not audio, and the silence stops at the wall clock.
        const wallClockSamples = Math.round(((Date.now() - this.startedAtMs! + MAX_AHEAD_MS) / 1000) * this.clockRate);
        const fill = Math.max(0, Math.min(gap, wallClockSamples - this.samples - pcm.length));
        if (fill < gap) this.clampedSamples += gap - fill;
        this.write(new Int16Array(fill));
        this.silentSamples += fill;
      } else if (gap < 0) {
        // Overlaps what was written (or is older): keep only what is new.
        if (-gap >= pcm.length) {
          this.dropped += 1;
          return;
        }
        pcm = pcm.subarray(-gap);
        timestamp = this.expectedTimestamp;
      }
    }
    this.write(pcm);
    this.packets += 1;
    this.expectedTimestamp = timestamp + pcm.length;
  }

  private write(pcm: Int16Array): void {
    const stdin = this.encoder.child.stdin;
    if (!stdin || stdin.destroyed || !stdin.writable) return;
    stdin.write(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
    this.samples += pcm.length;
  }
}
