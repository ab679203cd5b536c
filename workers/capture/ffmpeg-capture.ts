/**
 * ffmpeg capturing the virtual display (x11grab) and the recording's PulseAudio sink (web recordings), or
 * raw I420 frames and s16le audio the recorder writes to pipes (SDK recordings), encoded once as the
 * plan says (LiveKit's choices: H.264 veryfast, AAC/Opus/MP3, stereo) and written to every output of the
 * plan at once (see ffmpeg-args.ts). The file is recorded crash-safe into the work directory (fragmented
 * MP4, or the streamable OGG/MP3 themselves) and, on a graceful stop, remuxed into the file users get (a
 * normal MP4 with the index up front); segments and images are announced as each is complete, the stream
 * handed out as MPEG-TS.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { EgressPlan, FileType } from '../../shared/egress-plan.ts';
import { EgressError } from '../../shared/errors.ts';
import {
  captureArgs,
  captureInputs,
  captureLayout,
  imageFileName,
  rawInputs,
  segmentFileName,
  STREAM_FD,
  type CaptureInput,
  type CaptureLayout,
} from './ffmpeg-args.ts';
import { watchImages, type ImageWatcher } from './image-watcher.ts';
import type { AudioSink } from '../web/pulse.ts';
import { describeExit, type SupervisedProcess, type Supervisor } from '../process/processes.ts';
import type { CaptureStats, ImageReport, SegmentReport } from '../recording/recorder-contract.ts';
import { watchSegments, type SegmentWatcher } from './segment-watcher.ts';
import { streamFromPipe } from './stream-pipe.ts';

export { videoEncodeArgs } from './ffmpeg-args.ts';

/** How long ffmpeg may take to flush its encoders after `q` before it is killed. */
const STOP_TIMEOUT_MS = 15_000;
/** A capture with no encoded output after this long is stuck (no frames from the display, no audio). */
const FIRST_OUTPUT_TIMEOUT_MS = 15_000;
/**
 * How long each input of a stuck capture gets to deliver when tried on its own. The first audio of a
 * null sink's monitor can take 2 s (the sink renders in 2 s blocks until a client asks for less).
 */
const INPUT_PROBE_TIMEOUT_MS = 5_000;

export interface CaptureOptions {
  ffmpegPath: string;
  supervisor: Supervisor;
  plan: EgressPlan;
  /** The X display to grab; absent for audio-only. */
  display?: string;
  /** The sink to record; absent for video-only. */
  audio?: AudioSink;
  /**
   * Instead of a display and a sink: raw media the caller writes to Capture.rawPipes (rawInputs in
   * ffmpeg-args.ts), from `startedAtMs` (Unix ms) on, at the rate the media plays.
   */
  raw?: { video: boolean; audio: boolean; startedAtMs: number };
  workDir: string;
  /** Where the finished file goes; required when plan.file. */
  filePath?: string;
  /** Where the segments go; required when plan.segments. */
  segmentsDir?: string;
  /** Where each image output's JPEGs go, one per plan.images entry. */
  imagesDirs?: string[];
  onSegment?: (segment: SegmentReport) => void;
  onImage?: (image: ImageReport) => void;
  /** Called at once with the MPEG-TS stream when plan.stream; without it, no stream is produced. */
  onStream?: (ts: Readable) => void;
  log: Logger;
  /** How long ffmpeg may take to encode its first output before the capture counts as stuck (default 15 s). */
  firstOutputTimeoutMs?: number;
}

export interface CaptureResult {
  /** Unix ms the capture ended. */
  endedAtMs: number;
  stats: CaptureStats;
  /** The finished file, when the plan has one. */
  file?: { path: string; sizeBytes: number };
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
  /**
   * Ends gracefully: ffmpeg finishes every output, the file is remuxed into filePath, and every segment
   * and image not announced yet is, before this resolves.
   */
  stop(): Promise<CaptureResult>;
  /**
   * With CaptureOptions.raw: where to write the I420 frames and the s16le audio. Ignore their errors
   * (a pipe breaks when ffmpeg ends; `failed` says why); stop() ends them, so stop writing before it.
   */
  readonly rawPipes: { video?: Writable; audio?: Writable };
}

const NEVER = new Promise<never>(() => {});

/** Throws an EgressError when the plan's outputs cannot be recorded as asked. */
export function startCapture(options: CaptureOptions): Capture {
  const { plan, supervisor, log } = options;
  const layout = captureLayout({
    plan,
    workDir: options.workDir,
    video: options.raw ? options.raw.video : options.display !== undefined,
    audio: options.raw ? options.raw.audio : options.audio !== undefined,
    filePath: options.filePath,
    segmentsDir: options.segmentsDir,
    imagesDirs: options.imagesDirs,
    streamWanted: options.onStream !== undefined,
  });
  for (const dir of [layout.segments?.dir, ...layout.images.map((image) => image.dir)]) if (dir) mkdirSync(dir, { recursive: true });
  // A list left by an earlier attempt in this work directory would announce its segments.
  if (layout.segments) rmSync(layout.segments.listPath, { force: true });
  const inputs = inputsOf(options);
  const args = captureArgs(plan, inputs, layout);
  const spawnedAtMs = Date.now();
  const ffmpeg = supervisor.spawn('ffmpeg', options.ffmpegPath, args, stdioFor(layout, inputs));
  const rawPipes = pipesOf(ffmpeg, inputs);
  const reports = followReports(ffmpeg, log, options.raw?.startedAtMs);
  if (layout.stream) handOut(options, streamFromPipe(ffmpeg.child.stdio[STREAM_FD] as Readable, log));
  const watchers = watchOutputs(options, layout, () => reports.captureStartMs() ?? spawnedAtMs);
  let stopping = false;
  let producing = false;
  // Nothing more is announced after a failure.
  void ffmpeg.exited.then(() => {
    if (!stopping) void watchers.stop();
  });
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
    // Raw inputs end with their pipes, so that everything written is encoded; devices end with `q`.
    if (options.raw) for (const pipe of Object.values(rawPipes)) pipe?.end();
    else ffmpeg.child.stdin?.end('q');
    const exit = await Promise.race([ffmpeg.exited, delay(STOP_TIMEOUT_MS, undefined, { ref: false })]);
    if (!exit) {
      // The capture is fragmented, so what was written so far is still worth finalizing.
      log.warn('ffmpeg did not finish in time; finalizing what it wrote');
      await ffmpeg.kill();
    } else if (exit.code !== 0) {
      await watchers.stop();
      throw new EgressError('EGR_ERR_ENCODER_FAILED', `ffmpeg failed while finishing: ${describeExit(exit, ffmpeg)}`);
    }
    await watchers.finish(endedAtMs);
    const { file } = layout;
    if (!file) return { endedAtMs, stats: reports.stats() };
    await remux(options, file.capturePath, file.filePath, file.container);
    return { endedAtMs, stats: reports.stats(), file: { path: file.filePath, sizeBytes: (await stat(file.filePath)).size } };
  };

  return { active, failed, stop, rawPipes };
}

function inputsOf(options: CaptureOptions): CaptureInput[] {
  return options.raw ? rawInputs(options.raw, options.plan.encoding) : captureInputs(options.audio, options.display, options.plan.encoding);
}

/** The stream on a pipe of its own (stdout carries the progress reports), and one pipe per raw input. */
function stdioFor(layout: CaptureLayout, inputs: CaptureInput[]): { stdio?: ('pipe' | 'ignore')[] } {
  const fds = [...(layout.stream ? [STREAM_FD] : []), ...inputs.flatMap((input) => (input.fd === undefined ? [] : [input.fd]))];
  if (fds.length === 0) return {};
  const stdio = Array<'pipe' | 'ignore'>(Math.max(...fds) + 1).fill('ignore');
  for (const fd of [0, 1, 2, ...fds]) stdio[fd] = 'pipe';
  return { stdio };
}

function pipesOf(ffmpeg: SupervisedProcess, inputs: CaptureInput[]): Capture['rawPipes'] {
  const pipes: { video?: Writable; audio?: Writable } = {};
  for (const input of inputs) {
    if (input.fd === undefined) continue;
    const pipe = ffmpeg.child.stdio[input.fd] as Writable;
    // A write after ffmpeg is gone fails with EPIPE; the capture's `failed` reports the exit instead.
    pipe.on('error', () => {});
    pipes[input.kind] = pipe;
  }
  return pipes;
}

function handOut(options: CaptureOptions, ts: Readable): void {
  try {
    options.onStream!(ts);
  } catch (err) {
    options.log.error({ err }, 'onStream failed');
  }
}

interface OutputWatchers {
  stop(): Promise<void>;
  finish(endedAtMs: number): Promise<void>;
}

/** Watches the segments and images for the callbacks that want them. */
function watchOutputs(options: CaptureOptions, layout: CaptureLayout, timeZeroMs: () => number): OutputWatchers {
  const { log, onSegment, onImage } = options;
  const segments: SegmentWatcher | undefined =
    layout.segments && onSegment
      ? watchSegments({ listPath: layout.segments.listPath, dir: layout.segments.dir, fileName: segmentFileName, timeZeroMs, onSegment, log })
      : undefined;
  const images: ImageWatcher[] = onImage
    ? layout.images.map(({ dir, output }, outputIndex) =>
        watchImages({ outputIndex, dir, fileName: imageFileName, intervalSec: output.captureIntervalSec, timeZeroMs, onImage, log }),
      )
    : [];
  return {
    stop: async () => {
      await Promise.all([segments?.stop(), ...images.map((watcher) => watcher.stop())]);
    },
    finish: async (endedAtMs) => {
      await Promise.all([segments?.finish(endedAtMs), ...images.map((watcher) => watcher.finish())]);
    },
  };
}

/**
 * Why a capture has encoded nothing: which of its inputs delivers nothing. An input that delivers
 * nothing stalls the whole capture (ffmpeg waits for every stream before it writes anything), so
 * ffmpeg's silence alone does not tell which. Named are the input ffmpeg is still opening, if any (it
 * opens them in order, and opening one reads from it), and every input that, tried on its own by a
 * second ffmpeg, delivers nothing within INPUT_PROBE_TIMEOUT_MS.
 */
async function whyNothingEncoded(options: CaptureOptions, opened: ReadonlySet<string>, ffmpeg: SupervisedProcess): Promise<string> {
  const inputs = inputsOf(options);
  const stillOpening = inputs.find((input) => !opened.has(input.format));
  // A pipe cannot be tried by a second reader; what is written to it is the caller's to tell.
  const delivering = await Promise.all(inputs.map((input) => (input.fd === undefined ? delivers(options, input) : true)));
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

interface FfmpegReports {
  /** Resolves at the first progress report showing encoded output. */
  firstOutput: Promise<void>;
  /** The latest counters. */
  stats(): CaptureStats;
  /** Unix ms the first frame (audio-only: the first audio) was captured, once ffmpeg has said. */
  captureStartMs(): number | undefined;
  /** Formats of the inputs ffmpeg has opened so far (`pulse`, `x11grab`, `s16le`, `rawvideo`). */
  openedInputs(): ReadonlySet<string>;
}

/**
 * Follows what ffmpeg reports: `-progress pipe:1` blocks of key=value lines, each ended by
 * `progress=…`; and on stderr each input's first timestamp (`Input #1, x11grab, …` then
 * `Duration: N/A, start: <seconds>`), which x11grab and pulse take from the wall clock.
 */
function followReports(ffmpeg: SupervisedProcess, log: Logger, rawStartedAtMs: number | undefined): FfmpegReports {
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
    // The tee drops a failing segments, stream or image output and goes on; say so.
    if (/Slave muxer #\d+ failed/.test(line)) log.warn({ ffmpeg: line.trim() }, 'an output of the capture failed and was dropped');
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
    // Raw inputs start at 0: their time zero is when the caller began writing.
    captureStartMs: () => rawStartedAtMs ?? startMsOfInput.get('x11grab') ?? startMsOfInput.get('pulse'),
    openedInputs: () => opened,
  };
}

/**
 * Rewrites a crash-safe capture into filePath (its extension names the container) without re-encoding; an
 * MP4 gets its index up front (faststart). Also the end of a track recording (workers/track/).
 */
export async function remux(options: Pick<CaptureOptions, 'ffmpegPath' | 'supervisor'>, capturePath: string, filePath: string, container: FileType): Promise<void> {
  const faststart = container === 'mp4' ? ['-movflags', '+faststart'] : [];
  await mkdir(dirname(filePath), { recursive: true });
  const remuxer = options.supervisor.spawn('ffmpeg-remux', options.ffmpegPath, [
    '-hide_banner', '-nostdin', '-v', 'error', '-y', '-i', capturePath, '-map', '0', '-c', 'copy', ...faststart, filePath,
  ]);
  const exit = await remuxer.exited;
  if (exit.code !== 0) throw new EgressError('EGR_ERR_ENCODER_FAILED', `could not finalize the file: ${describeExit(exit, remuxer)}`);
}
