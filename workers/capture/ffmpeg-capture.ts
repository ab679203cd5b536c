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
import type { Readable, Writable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { EgressPlan, FileType } from '../../shared/egress-plan.ts';
import { EgressError } from '../../shared/errors.ts';
import { captureArgs, captureInputs, captureLayout, rawInputs, STREAM_FD, type CaptureInput, type CaptureLayout } from './ffmpeg-args.ts';
import { followReports, type FfmpegReports } from './ffmpeg-reports.ts';
import { FIRST_OUTPUT_TIMEOUT_MS, watchFirstOutput } from './first-output-watchdog.ts';
import { watchOutputs, type OutputWatchers } from './output-watchers.ts';
import type { AudioSink } from '../web/pulse.ts';
import { describeExit, type SupervisedProcess, type Supervisor } from '../process/processes.ts';
import type { CaptureStats, RecordingOutputs } from '../recording/recorder-contract.ts';
import { streamFromPipe } from './stream-pipe.ts';

export { videoEncodeArgs } from './ffmpeg-args.ts';

/** How long ffmpeg may take to flush its encoders after `q` before it is killed. */
const STOP_TIMEOUT_MS = 15_000;

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
  /**
   * Where the plan's outputs go and who hears of them (RecordingStart.outputs): the file's path, the segments'
   * and images' directories and callbacks, the stream's taker (without it, no stream is produced).
   */
  outputs: RecordingOutputs;
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
   * Ends gracefully: ffmpeg finishes every output, the file is remuxed into outputs.file.path, and every
   * segment and image not announced yet is, before this resolves.
   */
  stop(): Promise<CaptureResult>;
  /**
   * With CaptureOptions.raw: where to write the I420 frames and the s16le audio. Ignore their errors
   * (a pipe breaks when ffmpeg ends; `failed` says why); stop() ends them, so stop writing before it.
   */
  readonly rawPipes: { video?: Writable; audio?: Writable };
}

const NEVER = new Promise<never>(() => {});

/** What a running capture is made of, for its failure watch and its stop. */
interface Running {
  options: CaptureOptions;
  layout: CaptureLayout;
  ffmpeg: SupervisedProcess;
  reports: FfmpegReports;
  watchers: OutputWatchers;
  rawPipes: Capture['rawPipes'];
}

/** Throws an EgressError when the plan's outputs cannot be recorded as asked. */
export function startCapture(options: CaptureOptions): Capture {
  const { plan, supervisor, log } = options;
  const layout = layoutOf(options);
  const inputs = inputsOf(options);
  const spawnedAtMs = Date.now();
  const ffmpeg = supervisor.spawn('ffmpeg', options.ffmpegPath, captureArgs(plan, inputs, layout), stdioFor(layout, inputs));
  const reports = followReports(ffmpeg, log, options.raw?.startedAtMs);
  if (layout.stream) handOut(options, streamFromPipe(ffmpeg.child.stdio[STREAM_FD] as Readable, log));
  const timeZeroMs = () => reports.captureStartMs() ?? spawnedAtMs;
  const running: Running = {
    options,
    layout,
    ffmpeg,
    reports,
    watchers: watchOutputs(options.outputs, layout, timeZeroMs, log),
    rawPipes: pipesOf(ffmpeg, inputs),
  };
  let stopping = false;
  let producing = false;
  // Nothing more is announced after a failure.
  void ffmpeg.exited.then(() => {
    if (!stopping) void running.watchers.stop();
  });
  void reports.firstOutput.then(() => (producing = true));
  const exitedEarly = ffmpeg.exited.then((exit) =>
    // After stop(), its exit is stop()'s business.
    stopping ? NEVER : new EgressError('EGR_ERR_ENCODER_FAILED', `ffmpeg failed: ${describeExit(exit, ffmpeg)}`),
  );
  const watchdog = watchFirstOutput({
    ffmpegPath: options.ffmpegPath,
    supervisor,
    inputs,
    ffmpeg,
    timeoutMs: options.firstOutputTimeoutMs ?? FIRST_OUTPUT_TIMEOUT_MS,
    openedInputs: () => reports.openedInputs(),
    settled: () => producing || stopping,
    log,
  });
  void reports.firstOutput.then(watchdog.disarm);
  void ffmpeg.exited.then(watchdog.disarm);
  return {
    active: reports.firstOutput.then(timeZeroMs),
    failed: Promise.race([exitedEarly, watchdog.stalled]),
    stop: () => {
      stopping = true;
      watchdog.disarm();
      return stopRunning(running);
    },
    rawPipes: running.rawPipes,
  };
}

/** The layout of the outputs, with their directories made and an earlier attempt's segment list gone. */
function layoutOf(options: CaptureOptions): CaptureLayout {
  const layout = captureLayout({
    plan: options.plan,
    workDir: options.workDir,
    video: options.raw ? options.raw.video : options.display !== undefined,
    audio: options.raw ? options.raw.audio : options.audio !== undefined,
    outputs: options.outputs,
  });
  for (const dir of [layout.segments?.dir, ...layout.images.map((image) => image.dir)]) if (dir) mkdirSync(dir, { recursive: true });
  // A list left by an earlier attempt in this work directory would announce its segments.
  if (layout.segments) rmSync(layout.segments.listPath, { force: true });
  return layout;
}

/** The graceful end: ffmpeg finishes (or is killed after STOP_TIMEOUT_MS), what is left is announced, the file remuxed. */
async function stopRunning({ options, layout, ffmpeg, reports, watchers, rawPipes }: Running): Promise<CaptureResult> {
  const endedAtMs = Date.now();
  // Raw inputs end with their pipes, so that everything written is encoded; devices end with `q`.
  if (options.raw) for (const pipe of Object.values(rawPipes)) pipe?.end();
  else ffmpeg.child.stdin?.end('q');
  const exit = await Promise.race([ffmpeg.exited, delay(STOP_TIMEOUT_MS, undefined, { ref: false })]);
  if (!exit) {
    // The capture is fragmented, so what was written so far is still worth finalizing.
    options.log.warn('ffmpeg did not finish in time; finalizing what it wrote');
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
    options.outputs.stream?.onStream(ts);
  } catch (err) {
    options.log.error({ err }, 'onStream failed');
  }
}

/**
 * Rewrites a crash-safe capture into filePath (its extension names the container) without re-encoding; an
 * MP4 gets its index up front (faststart). Also the end of a track recording (workers/track/).
 */
export async function remux(
  options: Pick<CaptureOptions, 'ffmpegPath' | 'supervisor'>,
  capturePath: string,
  filePath: string,
  container: FileType,
): Promise<void> {
  const faststart = container === 'mp4' ? ['-movflags', '+faststart'] : [];
  await mkdir(dirname(filePath), { recursive: true });
  const remuxer = options.supervisor.spawn('ffmpeg-remux', options.ffmpegPath, [
    '-hide_banner',
    '-nostdin',
    '-v',
    'error',
    '-y',
    '-i',
    capturePath,
    '-map',
    '0',
    '-c',
    'copy',
    ...faststart,
    filePath,
  ]);
  const exit = await remuxer.exited;
  if (exit.code !== 0) throw new EgressError('EGR_ERR_ENCODER_FAILED', `could not finalize the file: ${describeExit(exit, remuxer)}`);
}
