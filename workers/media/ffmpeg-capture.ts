/**
 * ffmpeg capturing the virtual display (x11grab) and the recording's PulseAudio sink, encoded as the
 * plan says (LiveKit's choices: H.264 veryfast, AAC/Opus/MP3, stereo). It records crash-safe into the
 * work directory (fragmented MP4, or the streamable OGG/MP3 themselves) and, on a graceful stop,
 * remuxes that into the file users get (a normal MP4 with the index up front).
 */
import { mkdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { AudioCodecName, EgressPlan, EncodingPlan, FileType } from '../../shared/egress-plan.ts';
import { EgressError } from '../../shared/errors.ts';
import type { AudioSink } from './pulse.ts';
import { describeExit, type SupervisedProcess, type Supervisor } from './processes.ts';
import type { CaptureStats } from './recording.ts';

/** How long ffmpeg may take to flush its encoders after `q` before it is killed. */
const STOP_TIMEOUT_MS = 15_000;
/** 10 ms of the sink's 48 kHz stereo s16: small reads keep PulseAudio's timestamps close to real time. */
const PULSE_FRAGMENT_BYTES = 1920;
/** A capture with no encoded output after this long is stuck (no frames from the display, no audio). */
const FIRST_OUTPUT_TIMEOUT_MS = 15_000;
/**
 * How long each input of a stuck capture gets to deliver when tried on its own. The first audio of a
 * null sink's monitor can take 2 s (the sink renders in 2 s blocks until a client asks for less).
 */
const INPUT_PROBE_TIMEOUT_MS = 5_000;
/** Keyframe interval when the plan leaves it to the encoder. */
const DEFAULT_KEYFRAME_INTERVAL_SEC = 2;

export interface CaptureOptions {
  ffmpegPath: string;
  supervisor: Supervisor;
  plan: EgressPlan;
  /** The X display to grab; absent for audio-only. */
  display?: string;
  /** The sink to record; absent for video-only. */
  audio?: AudioSink;
  workDir: string;
  /** Where the finished file goes. */
  filePath: string;
  log: Logger;
  /** How long ffmpeg may take to encode its first output before the capture counts as stuck (default 15 s). */
  firstOutputTimeoutMs?: number;
}

export interface CaptureResult {
  /** Unix ms the capture ended. */
  endedAtMs: number;
  stats: CaptureStats;
  sizeBytes: number;
}

export interface Capture {
  /** Resolves once the first frame (audio-only: the first audio) is encoded, with the Unix ms capture began. */
  readonly active: Promise<number>;
  /**
   * Resolves (never rejects) with EGR_ERR_ENCODER_FAILED if ffmpeg ends before stop(), or if it encodes
   * nothing within the first-output timeout (the message names the input that delivers nothing). Once
   * output has begun, only an exit settles it.
   */
  readonly failed: Promise<EgressError>;
  /** Ends gracefully: ffmpeg finishes the capture, which is remuxed into filePath. */
  stop(): Promise<CaptureResult>;
}

type Container = Extract<FileType, 'mp4' | 'ogg' | 'mp3'>;
type AudioEncoding = Extract<AudioCodecName, 'aac' | 'opus' | 'mp3'>;

const NEVER = new Promise<never>(() => {});

/** How each file type is written while recording: streamable, so a crash leaves a readable file. */
const CAPTURE_MUXER: Record<Container, string[]> = {
  mp4: ['-f', 'mp4', '-movflags', '+empty_moov+default_base_moof', '-frag_duration', '1000000'],
  ogg: ['-f', 'ogg'],
  mp3: ['-f', 'mp3'],
};

export function startCapture(options: CaptureOptions): Capture {
  const { plan, supervisor, log } = options;
  const container = containerOf(plan);
  const capturePath = join(options.workDir, `capture.${container}`);
  const spawnedAtMs = Date.now();
  const ffmpeg = supervisor.spawn('ffmpeg', options.ffmpegPath, [...captureArgs(options, container), capturePath]);
  const reports = followReports(ffmpeg);
  let stopping = false;
  let producing = false;
  void reports.firstOutput.then(() => (producing = true));

  const active = reports.firstOutput.then(() => reports.captureStartMs() ?? spawnedAtMs);
  const exitedEarly = ffmpeg.exited.then((exit) =>
    // After stop(), its exit is stop()'s business.
    stopping ? NEVER : new EgressError('EGR_ERR_ENCODER_FAILED', `ffmpeg failed: ${describeExit(exit, ffmpeg)}`),
  );
  // A watchdog for the start only: disarmed by the first output (or an exit, or stop()), so it can
  // never fail a capture that is producing, however long it runs.
  const timeoutMs = options.firstOutputTimeoutMs ?? FIRST_OUTPUT_TIMEOUT_MS;
  let disarmWatchdog = () => {};
  const stalled = new Promise<EgressError>((resolve) => {
    const timer = setTimeout(() => {
      const diagnosis = whyNothingEncoded(options, reports.openedInputs(), ffmpeg).catch(
        (err: unknown) => `could not tell which input: ${(err as Error).message}`,
      );
      void diagnosis.then((reason) => {
        // Output may have begun while the inputs were tried: then the capture is fine after all.
        if (producing || stopping) return;
        log.warn({ stderr: ffmpeg.stderrTail(10) }, `ffmpeg encoded nothing in ${timeoutMs / 1000} s: ${reason}`);
        resolve(new EgressError('EGR_ERR_ENCODER_FAILED', `ffmpeg encoded nothing in ${timeoutMs / 1000} s: ${reason}`));
      });
    }, timeoutMs);
    timer.unref();
    disarmWatchdog = () => clearTimeout(timer);
  });
  void reports.firstOutput.then(disarmWatchdog);
  void ffmpeg.exited.then(disarmWatchdog);
  const failed = Promise.race([exitedEarly, stalled]);

  const stop = async (): Promise<CaptureResult> => {
    stopping = true;
    disarmWatchdog();
    const endedAtMs = Date.now();
    ffmpeg.child.stdin?.end('q');
    const exit = await Promise.race([ffmpeg.exited, delay(STOP_TIMEOUT_MS, undefined, { ref: false })]);
    if (!exit) {
      // The capture is fragmented, so what was written so far is still worth finalizing.
      log.warn('ffmpeg did not finish in time; finalizing what it wrote');
      await ffmpeg.kill();
    } else if (exit.code !== 0) {
      throw new EgressError('EGR_ERR_ENCODER_FAILED', `ffmpeg failed while finishing: ${describeExit(exit, ffmpeg)}`);
    }
    await remux(options, capturePath, container);
    return { endedAtMs, stats: reports.stats(), sizeBytes: (await stat(options.filePath)).size };
  };

  return { active, failed, stop };
}

function containerOf(plan: EgressPlan): Container {
  const fileType = plan.file?.fileType;
  if (fileType !== 'mp4' && fileType !== 'ogg' && fileType !== 'mp3') {
    throw new EgressError('EGR_ERR_NOT_SUPPORTED', `web recordings write mp4, ogg or mp3 files, not ${fileType ?? 'no file'}`);
  }
  if (fileType !== 'mp4' && plan.video) throw new EgressError('EGR_ERR_INVALID_ARGUMENT', `a ${fileType} file cannot hold video`);
  return fileType;
}

/** One input of the capture: the ffmpeg options that open it, and what it is, for messages. */
interface CaptureInput {
  /** ffmpeg's name of the input format, as in its `Input #N, <format>, from …` line. */
  format: 'pulse' | 'x11grab';
  /** `-f … -i …`, without the queue size. */
  args: string[];
  /** The input's queue between its reading thread and the encoders (packets). */
  queueSize: number;
  /** What is missing when this input delivers nothing, e.g. "no frames from the X display :3". */
  missing: string;
}

/**
 * The capture's inputs in the order ffmpeg opens them. Audio is opened first: ffmpeg aligns each
 * input's first timestamp to zero, and opening the display second measured closest to real A/V sync
 * (within 20 ms).
 */
function captureInputs({ audio, display, plan: { encoding } }: CaptureOptions): CaptureInput[] {
  const inputs: CaptureInput[] = [];
  if (audio) {
    inputs.push({
      format: 'pulse',
      args: ['-f', 'pulse', '-server', audio.server, '-fragment_size', String(PULSE_FRAGMENT_BYTES), '-i', audio.monitor],
      queueSize: 1024,
      missing: `no audio from PulseAudio (source ${audio.monitor} on ${audio.server})`,
    });
  }
  if (display) {
    inputs.push({
      format: 'x11grab',
      args: ['-f', 'x11grab', '-draw_mouse', '0', '-framerate', String(encoding.framerate), '-video_size', `${encoding.width}x${encoding.height}`, '-i', display],
      queueSize: 512,
      missing: `no frames from the X display ${display}`,
    });
  }
  return inputs;
}

function captureArgs(options: CaptureOptions, container: Container): string[] {
  const { audio, display } = options;
  const encoding = options.plan.encoding;
  const inputs = captureInputs(options).flatMap((input) => ['-thread_queue_size', String(input.queueSize), ...input.args]);
  // Streams in the usual order, video first.
  const videoOutput = display ? ['-map', `${audio ? 1 : 0}:v`, ...videoEncodeArgs(options.plan)] : [];
  // Audio timestamps from the sample count: PulseAudio's wall-clock stamps jitter under load, which
  // would leave gaps and overlaps in the track.
  const audioOutput = audio ? ['-map', '0:a', '-af', 'asetpts=N/SR/TB', ...audioEncoder(audioCodecOf(container, encoding.audioCodec), encoding)] : [];
  return ['-hide_banner', '-nostats', '-progress', 'pipe:1', '-y', ...inputs, ...videoOutput, ...audioOutput, ...CAPTURE_MUXER[container]];
}

/**
 * Why a capture has encoded nothing: which of its inputs delivers nothing. An input that delivers
 * nothing stalls the whole capture (ffmpeg waits for every stream before it writes anything), so
 * ffmpeg's silence alone does not tell which. Named are the input ffmpeg is still opening, if any (it
 * opens them in order, and opening one reads from it), and every input that, tried on its own by a
 * second ffmpeg, delivers nothing within INPUT_PROBE_TIMEOUT_MS.
 */
async function whyNothingEncoded(options: CaptureOptions, opened: ReadonlySet<string>, ffmpeg: SupervisedProcess): Promise<string> {
  const inputs = captureInputs(options);
  const stillOpening = inputs.find((input) => !opened.has(input.format));
  const delivering = await Promise.all(inputs.map((input) => delivers(options, input)));
  const stalled = inputs.filter((input, i) => input === stillOpening || !delivering[i]);
  if (stalled.length > 0) return stalled.map((input) => input.missing).join('; ');
  return `its inputs deliver when tried on their own; ffmpeg said: ${ffmpeg.stderrTail(3) || 'nothing'}`;
}

/** Whether the input delivers something within INPUT_PROBE_TIMEOUT_MS when ffmpeg reads only it. */
async function delivers(options: CaptureOptions, input: CaptureInput): Promise<boolean> {
  const probe = options.supervisor.spawn(`ffmpeg-probe-${input.format}`, options.ffmpegPath, [
    '-hide_banner', '-nostdin', '-v', 'error', ...input.args, '-frames', '1', '-f', 'null', '-',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exit = await Promise.race([probe.exited, delay(INPUT_PROBE_TIMEOUT_MS, undefined, { ref: false })]);
  if (!exit) {
    // What it was stuck on is the answer; no grace needed.
    await probe.kill(0);
    return false;
  }
  return exit.code === 0;
}

/** The H.264 encoder options for a plan (also the baseline of bench/web-capture-cost.ts). */
export function videoEncodeArgs({ encoding }: EgressPlan): string[] {
  const kbps = encoding.videoBitrateKbps;
  const keyframeSec = encoding.keyFrameIntervalSec > 0 ? encoding.keyFrameIntervalSec : DEFAULT_KEYFRAME_INTERVAL_SEC;
  return [
    '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', encoding.videoProfile, '-pix_fmt', 'yuv420p',
    // No lookahead or B-frames: ffmpeg feeds its encoders in timestamp order, so behind an encoder that
    // holds frames back, audio waits in the input queue, and `q` would drop those last ~0.5 s of sound.
    '-tune', 'zerolatency',
    // A 2 s rate-control buffer, as LiveKit's vbv-buf-capacity.
    '-b:v', `${kbps}k`, '-maxrate', `${kbps}k`, '-bufsize', `${kbps * 2}k`,
    '-g', String(Math.max(1, Math.round(keyframeSec * encoding.framerate))),
    // Constant frame rate: ffmpeg duplicates or drops frames when the grab drifts (counted in the stats).
    '-fps_mode', 'cfr', '-r', String(encoding.framerate),
  ];
}

/** An MP4 holds AAC or Opus; OGG only Opus; an MP3 file only MP3. */
function audioCodecOf(container: Container, requested: AudioCodecName): AudioEncoding {
  if (container === 'ogg') return 'opus';
  if (container === 'mp3') return 'mp3';
  return requested === 'opus' ? 'opus' : 'aac';
}

function audioEncoder(codec: AudioEncoding, encoding: EncodingPlan): string[] {
  const bitrate = ['-b:a', `${encoding.audioBitrateKbps}k`, '-ac', '2'];
  switch (codec) {
    case 'opus':
      return ['-c:a', 'libopus', ...bitrate, '-ar', '48000'];
    case 'mp3':
      // libmp3lame is constant bitrate when given -b:a.
      return ['-c:a', 'libmp3lame', ...bitrate, '-ar', String(encoding.audioFrequency)];
    case 'aac':
      return ['-c:a', 'aac', ...bitrate, '-ar', String(encoding.audioFrequency)];
  }
}

interface FfmpegReports {
  /** Resolves at the first progress report showing encoded output. */
  firstOutput: Promise<void>;
  /** The latest counters. */
  stats(): CaptureStats;
  /** Unix ms the first frame (audio-only: the first audio) was captured, once ffmpeg has said. */
  captureStartMs(): number | undefined;
  /** Formats of the inputs ffmpeg has opened so far (`pulse`, `x11grab`). */
  openedInputs(): ReadonlySet<string>;
}

/**
 * Follows what ffmpeg reports: `-progress pipe:1` blocks of key=value lines, each ended by
 * `progress=…`; and on stderr each input's first timestamp (`Input #1, x11grab, …` then
 * `Duration: N/A, start: <seconds>`), which x11grab and pulse take from the wall clock.
 */
function followReports(ffmpeg: SupervisedProcess): FfmpegReports {
  const stats: CaptureStats = { frames: 0, duplicated: 0, dropped: 0 };
  let outTimeUs = 0;
  let resolveFirstOutput = () => {};
  const firstOutput = new Promise<void>((resolve) => (resolveFirstOutput = resolve));
  createInterface({ input: ffmpeg.child.stdout! }).on('line', (line) => {
    const [key, value = ''] = line.split('=', 2);
    const number = Number(value);
    if (key === 'frame') stats.frames = number;
    else if (key === 'dup_frames') stats.duplicated = number;
    else if (key === 'drop_frames') stats.dropped = number;
    else if (key === 'out_time_us') outTimeUs = number;
    else if (key === 'progress' && (stats.frames > 0 || outTimeUs > 0)) resolveFirstOutput();
  });
  const startMsOfInput = new Map<string, number>();
  const opened = new Set<string>();
  let input = '';
  createInterface({ input: ffmpeg.child.stderr! }).on('line', (line) => {
    // ffmpeg prints an input's `Input #N, <format>` line once it has opened it; an input that
    // delivers nothing mostly keeps it from getting there (pulse: a suspended source; x11grab: a hung X server).
    input = /^Input #\d+, (\w+),/.exec(line)?.[1] ?? input;
    if (input) opened.add(input);
    const start = /^\s*Duration: N\/A, start: (\d+\.\d+)/.exec(line)?.[1];
    if (start) startMsOfInput.set(input, Math.round(Number(start) * 1000));
  });
  return {
    firstOutput,
    stats: () => ({ ...stats }),
    captureStartMs: () => startMsOfInput.get('x11grab') ?? startMsOfInput.get('pulse'),
    openedInputs: () => opened,
  };
}

/** Rewrites the capture into filePath without re-encoding; an MP4 gets its index up front (faststart). */
async function remux(options: CaptureOptions, capturePath: string, container: Container): Promise<void> {
  const faststart = container === 'mp4' ? ['-movflags', '+faststart'] : [];
  await mkdir(dirname(options.filePath), { recursive: true });
  const remuxer = options.supervisor.spawn('ffmpeg-remux', options.ffmpegPath, [
    '-hide_banner', '-nostdin', '-v', 'error', '-y', '-i', capturePath, '-map', '0', '-c', 'copy', ...faststart, options.filePath,
  ]);
  const exit = await remuxer.exited;
  if (exit.code !== 0) throw new EgressError('EGR_ERR_ENCODER_FAILED', `could not finalize the file: ${describeExit(exit, remuxer)}`);
}
