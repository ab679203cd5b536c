/**
 * Track egress to a file without transcoding: the track's RTP (TrackSubscriber) is put in order and
 * framed (JitterBuffer), depacketized (werift) and muxed as it is (ContainerWriter, mediabunny) into a
 * crash-safe capture in the work directory (H.264 → Matroska, VP8/VP9 → WebM, Opus → Ogg, all streamable;
 * capture.json beside it says what the file becomes), then remuxed at the end without re-encoding into the
 * file users get: H.264 → MP4 (index up front), VP8/VP9 → WebM (duration, cues), Opus → the Ogg itself.
 * PCMU and PCMA, which no Ogg takes as they are, are decoded and encoded to Opus in an Ogg (g711-session.ts).
 * Should the worker die, the salvage job makes that file from the capture. Video starts at its first
 * keyframe (PLI once a second until it comes, and again after a loss); Opus gaps are filled so the Ogg
 * keeps the wall-clock length.
 * Ends "Source closed" when the track is unpublished, its publisher leaves or the room ends, or on stop().
 * A room connection lost mid-recording (signalling closed or silent, the media connection failed) fails the
 * egress, as LiveKit's does, but what was recorded until then is finalized and delivered all the same.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { RtpPacket } from 'werift';
import { asEgressError, EgressError } from '../../shared/errors.ts';
import { remux } from '../capture/ffmpeg-capture.ts';
import { Supervisor } from '../process/processes.ts';
import { notStarted } from '../recording/recorder-steps.ts';
import type { Recorder, RecordingEnd, RecordingResult, RecordingStart } from '../recording/recorder-contract.ts';
import { liveKitCredentials, recorderToken } from '../room/recorder-token.ts';
import { codecInfo, depacketize, describeKeyframe, g711Law, opusFiller, opusPacketSamples, type CodecInfo } from './codecs.ts';
import { announceCapture } from './capture-info.ts';
import { CAPTURE_EXTENSION, ContainerWriter } from './container-writer.ts';
import { G711FileSession } from './g711-session.ts';
import { PayloadFilter } from './payload-filter.ts';
import { JitterBuffer, type RtpFrame } from './jitter-buffer.ts';
import { TrackSubscriber, type ReceivedTrack } from './track-subscriber.ts';

/** How long a hole may wait for its retransmission (LiveKit egress holds 2 s; werift stops NACKing much sooner). */
const LATENCY_MS = { video: 1000, audio: 300 } as const;
const PLI_INTERVAL_MS = 1000;
/** Longest Opus gap filled (a longer jump in timestamps is taken as a discontinuity, not silence). */
const MAX_FILL_SEC = 600;

export const recordTrackFile: Recorder = (start) => {
  let stopRequested: ((reason: string) => void) | undefined;
  let pendingStop: string | undefined;
  const done = record(start, (stop) => {
    stopRequested = stop;
    if (pendingStop !== undefined) stop(pendingStop);
  });
  // The caller awaits `done` later; a failure before then is not an unhandled rejection.
  done.catch(() => undefined);
  return {
    done,
    stop: (reason) => {
      if (stopRequested) stopRequested(reason);
      else pendingStop ??= reason;
    },
  };
};

async function record(start: RecordingStart, onStopHandler: (stop: (reason: string) => void) => void): Promise<RecordingResult> {
  const { plan, settings, log } = start;
  const filePath = start.outputs.file?.path;
  if (!filePath) throw new EgressError('EGR_ERR_INTERNAL', 'track egress to a file needs a file path');
  const trackId = plan.source.kind === 'track' ? plan.source.trackId : '';
  let ended!: (end: RecordingEnd | Error) => void;
  const endOf = new Promise<RecordingEnd | Error>((resolve) => (ended = resolve));
  let stopping = false;
  onStopHandler((reason) => {
    if (stopping) return;
    stopping = true;
    log.info({ reason }, 'stopping the track recording');
    ended('stopped');
  });

  const credentials = liveKitCredentials(settings.liveKit);
  const subscriber = new TrackSubscriber({
    wsUrl: credentials.wsUrl,
    token: await recorderToken(credentials, plan.roomName, plan.egressId),
    trackId,
    log,
    onEnded: (reason, lost) => ended(lost ? new EgressError('EGR_ERR_UNAVAILABLE', `recording ended early: ${reason}`) : 'end_signal'),
  });
  const supervisor = new Supervisor(log, { EGRESS_ID: plan.egressId });
  let session: TrackFileSession | G711FileSession | undefined;
  try {
    const received = await Promise.race([subscriber.start().then(() => subscriber.received), endOf]);
    if (typeof received === 'string') return notStarted(received);
    if (received instanceof Error) throw received;
    const codec = codecInfo(received.codec.mimeType, received.codec.clockRate);
    const law = g711Law(received.codec.mimeType);
    if (codec) session = new TrackFileSession({ start, received, codec, subscriber, filePath, supervisor });
    else if (law) session = new G711FileSession({ start, received, law, subscriber, supervisor, onFailure: (err) => ended(err) });
    else
      throw new EgressError(
        'EGR_ERR_NOT_SUPPORTED',
        `track egress of ${received.codec.mimeType} is not supported (H.264, VP8, VP9, Opus, PCMU and PCMA are)`,
      );
    const end = await endOf;
    await subscriber.close();
    if (!(end instanceof Error)) return await session.finish(end);
    // The room connection was lost: the egress fails, with what was recorded until then.
    const partial = await session.finish('end_signal').catch((err: unknown) => {
      log.warn({ err: asEgressError(err).message }, 'what was recorded before the connection was lost could not be finalized');
      return undefined;
    });
    if (!partial?.started) throw end;
    log.warn(
      { err: end.message, sizeBytes: partial.file?.sizeBytes },
      'room connection lost; the recording so far is delivered and the egress fails',
    );
    return { ...partial, failure: asEgressError(end) };
  } catch (err) {
    // A stop while joining, or a track that ended before it was received, records nothing.
    if (stopping && !session) return notStarted('stopped');
    await session?.cancel();
    throw asEgressError(err);
  } finally {
    await subscriber.close();
    await supervisor.killAll();
  }
}

interface SessionOptions {
  start: RecordingStart;
  received: ReceivedTrack;
  codec: CodecInfo;
  subscriber: TrackSubscriber;
  /** Where the finished file goes, less its extension (the codec's). */
  filePath: string;
  /** Runs the remux at the end. */
  supervisor: Supervisor;
}

/** One received track being written to its file. */
class TrackFileSession {
  private readonly options: SessionOptions;
  private readonly writer: ContainerWriter;
  /** The crash-safe capture the writer writes. */
  private readonly capturePath: string;
  private readonly jitter: JitterBuffer;
  private readonly timer: NodeJS.Timeout;
  private ssrc?: number;
  private lastPliAt = 0;
  private awaitingKeyframe: boolean;
  private firstTimestamp?: number;
  private lastTimestamp?: number;
  /** Opus: the previous packet and where the next one should start (RTP clock). */
  private previousOpus?: Uint8Array;
  private expectedTimestamp?: number;
  private startedAtMs?: number;
  private dropped = 0;
  private lost = 0;
  private fillers = 0;
  private readonly filter: PayloadFilter;

  constructor(options: SessionOptions) {
    this.options = options;
    const { codec, received, start } = options;
    this.awaitingKeyframe = codec.kind === 'video';
    this.capturePath = join(start.workDir, `capture.${CAPTURE_EXTENSION[codec.codec]}`);
    this.writer = new ContainerWriter(this.capturePath, codec.codec, { channels: received.info.stereo ? 2 : 1 });
    // For the salvage job, should this worker die: what the capture becomes, and its name.
    announceCapture(start.workDir, { fileType: codec.fileType, namingVars: options.subscriber.namingVars() }, start.log);
    this.jitter = new JitterBuffer({
      kind: codec.kind,
      latencyMs: LATENCY_MS[codec.kind],
      onFrame: (frame) => this.onFrame(frame),
      onLoss: (count) => this.onLoss(count),
    });
    this.filter = new PayloadFilter(received.codec.payloadType, start.log);
    received.track.onReceiveRtp.subscribe((rtp) => this.onRtp(rtp));
    this.timer = setInterval(() => {
      this.jitter.tick();
      if (this.awaitingKeyframe) this.requestKeyframe();
    }, 100);
    start.log.info({ codec: codec.codec, fileType: codec.fileType }, 'recording the track as it is');
  }

  async finish(end: RecordingEnd): Promise<RecordingResult> {
    clearInterval(this.timer);
    this.jitter.flush();
    const { start, codec, supervisor } = this.options;
    const endedAtMs = Date.now();
    const stats = { frames: this.writer.samples, duplicated: 0, dropped: this.dropped };
    start.log.info(
      { ...stats, lostPackets: this.lost, opusFillers: this.fillers, wrongPayloadType: this.filter.wrongPayloadType },
      'track recording finished',
    );
    if (this.startedAtMs === undefined) {
      await this.writer.cancel();
      return { started: false, end, startedAtMs: endedAtMs, endedAtMs, stats };
    }
    try {
      await this.writer.finalize();
    } catch (err) {
      throw new EgressError('EGR_ERR_ENCODER_FAILED', `cannot write the ${codec.fileType} file: ${(err as Error).message}`, { cause: err });
    }
    // The Ogg is the file itself; the Matroska and the append-only WebM are remuxed (ffmpeg -c copy).
    const filePath = codec.fileType === 'ogg' ? this.capturePath : `${this.options.filePath}.${codec.fileType}`;
    if (filePath !== this.capturePath) await remux({ ffmpegPath: start.settings.ffmpegPath, supervisor }, this.capturePath, filePath, codec.fileType);
    const { size } = await stat(filePath);
    return {
      started: true,
      end,
      startedAtMs: this.startedAtMs,
      endedAtMs,
      file: { path: filePath, sizeBytes: size, fileType: codec.fileType },
      namingVars: this.options.subscriber.namingVars(),
      stats,
    };
  }

  async cancel(): Promise<void> {
    clearInterval(this.timer);
    await this.writer.cancel();
  }

  private onRtp(rtp: RtpPacket): void {
    if (!this.filter.accepts(rtp)) return;
    if (this.ssrc === undefined) {
      this.ssrc = rtp.header.ssrc;
      this.options.start.log.info('first RTP packet');
      if (this.awaitingKeyframe) this.requestKeyframe();
    }
    this.jitter.push(rtp);
  }

  private requestKeyframe(): void {
    if (this.ssrc === undefined || Date.now() - this.lastPliAt < PLI_INTERVAL_MS) return;
    this.lastPliAt = Date.now();
    this.options.subscriber.requestKeyframe(this.ssrc, this.options.received.receiver);
  }

  private onLoss(count: number): void {
    this.lost += count;
    this.options.start.log.debug({ count }, 'RTP lost');
    if (this.options.codec.kind === 'video' && this.firstTimestamp !== undefined) {
      this.awaitingKeyframe = true;
      this.requestKeyframe();
    }
  }

  private onFrame(frame: RtpFrame): void {
    const { codec, received } = this.options;
    let sample;
    try {
      sample = depacketize(codec.codec, frame.packets);
    } catch (err) {
      this.dropped += 1;
      this.options.start.log.debug({ err: (err as Error).message }, 'frame not depacketized');
      if (codec.kind === 'video') this.awaitingKeyframe = true;
      return;
    }
    if (sample.data.length === 0) return;
    if (codec.kind === 'audio') return this.onOpus(frame.timestamp, sample.data);
    if (this.awaitingKeyframe && !sample.keyframe) {
      this.dropped += 1;
      return;
    }
    if (this.lastTimestamp !== undefined && frame.timestamp <= this.lastTimestamp) {
      this.dropped += 1;
      return;
    }
    let description;
    if (this.firstTimestamp === undefined) {
      const described = describeKeyframe(codec.codec, sample.data);
      description = {
        codecString: described.codecString,
        width: described.width ?? received.info.width,
        height: described.height ?? received.info.height,
      };
      this.options.start.log.info(description, 'first keyframe');
      this.begin(frame.timestamp);
    }
    this.awaitingKeyframe = false;
    this.lastTimestamp = frame.timestamp;
    this.writer.write(
      { data: sample.data, keyframe: sample.keyframe, timestampSec: (frame.timestamp - this.firstTimestamp!) / codec.clockRate },
      description,
    );
  }

  private onOpus(timestamp: number, data: Uint8Array): void {
    if (this.lastTimestamp !== undefined && timestamp <= this.lastTimestamp) {
      this.dropped += 1;
      return;
    }
    if (this.firstTimestamp === undefined) this.begin(timestamp);
    const clock = this.options.codec.clockRate;
    const first = this.firstTimestamp!;
    // Lost packets (and a muted stretch) leave a hole in the timestamps: fill it with concealment packets.
    if (this.expectedTimestamp !== undefined && this.previousOpus && timestamp > this.expectedTimestamp) {
      const step = opusPacketSamples(this.previousOpus) * (clock / 48_000);
      const missing = Math.floor((timestamp - this.expectedTimestamp) / step + 0.01);
      if (missing > 0 && missing * step <= MAX_FILL_SEC * clock) {
        const filler = opusFiller(this.previousOpus);
        for (let i = 0; i < missing; i++)
          this.writer.write({ data: filler, keyframe: true, timestampSec: (this.expectedTimestamp + i * step - first) / clock });
        this.fillers += missing;
      }
    }
    this.writer.write({ data, keyframe: true, timestampSec: (timestamp - first) / clock });
    this.lastTimestamp = timestamp;
    this.previousOpus = data;
    this.expectedTimestamp = timestamp + opusPacketSamples(data) * (clock / 48_000);
  }

  private begin(timestamp: number): void {
    this.firstTimestamp = timestamp;
    this.startedAtMs = Date.now();
    this.options.start.onActive(this.startedAtMs, this.options.subscriber.namingVars().roomId);
  }
}
