/**
 * The start watchdog of a capture: ffmpeg that has encoded nothing after a while is stuck, and the error
 * says which input delivers nothing (ffmpeg's silence alone does not tell). Disarmed by the first output,
 * an exit or a stop, so it can never fail a capture that is producing, however long it runs.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { EgressError } from '../../shared/errors.ts';
import type { SupervisedProcess, Supervisor } from '../process/processes.ts';
import type { CaptureInput } from './ffmpeg-args.ts';

/** A capture with no encoded output after this long is stuck (no frames from the display, no audio). */
export const FIRST_OUTPUT_TIMEOUT_MS = 15_000;
/**
 * How long each input of a stuck capture gets to deliver when tried on its own. The first audio of a
 * null sink's monitor can take 2 s (the sink renders in 2 s blocks until a client asks for less).
 */
const INPUT_PROBE_TIMEOUT_MS = 5_000;

export interface WatchdogOptions {
  ffmpegPath: string;
  supervisor: Supervisor;
  inputs: CaptureInput[];
  ffmpeg: SupervisedProcess;
  timeoutMs: number;
  /** Formats of the inputs ffmpeg has opened so far. */
  openedInputs: () => ReadonlySet<string>;
  /** True once output has begun or the capture is stopping: a late diagnosis is then dropped. */
  settled: () => boolean;
  log: Logger;
}

export interface FirstOutputWatchdog {
  /** Resolves (never rejects) with EGR_ERR_ENCODER_FAILED naming what delivers nothing; never if disarmed in time. */
  readonly stalled: Promise<EgressError>;
  readonly disarm: () => void;
}

export function watchFirstOutput(options: WatchdogOptions): FirstOutputWatchdog {
  const { timeoutMs, ffmpeg, log } = options;
  let disarm = () => {};
  const stalled = new Promise<EgressError>((resolve) => {
    const timer = setTimeout(() => {
      const diagnosis = whyNothingEncoded(options).catch((err: unknown) => `could not tell which input: ${(err as Error).message}`);
      void diagnosis.then((reason) => {
        // Output may have begun while the inputs were tried: then the capture is fine after all.
        if (options.settled()) return;
        log.warn({ stderr: ffmpeg.stderrTail(10) }, `ffmpeg encoded nothing in ${timeoutMs / 1000} s: ${reason}`);
        resolve(new EgressError('EGR_ERR_ENCODER_FAILED', `ffmpeg encoded nothing in ${timeoutMs / 1000} s: ${reason}`));
      });
    }, timeoutMs);
    timer.unref();
    disarm = () => clearTimeout(timer);
  });
  return { stalled, disarm: () => disarm() };
}

/**
 * Why a capture has encoded nothing: which of its inputs delivers nothing. An input that delivers
 * nothing stalls the whole capture (ffmpeg waits for every stream before it writes anything), so
 * ffmpeg's silence alone does not tell which. Named are the input ffmpeg is still opening, if any (it
 * opens them in order, and opening one reads from it), and every input that, tried on its own by a
 * second ffmpeg, delivers nothing within INPUT_PROBE_TIMEOUT_MS.
 */
async function whyNothingEncoded(options: WatchdogOptions): Promise<string> {
  const { inputs } = options;
  const opened = options.openedInputs();
  const stillOpening = inputs.find((input) => !opened.has(input.format));
  // A pipe cannot be tried by a second reader; what is written to it is the caller's to tell.
  const delivering = await Promise.all(inputs.map((input) => (input.fd === undefined ? delivers(options, input) : Promise.resolve(true))));
  const stalled = inputs.filter((input, i) => input === stillOpening || !delivering[i]);
  if (stalled.length > 0) return stalled.map((input) => input.missing).join('; ');
  return `its inputs deliver when tried on their own; ffmpeg said: ${options.ffmpeg.stderrTail(3) || 'nothing'}`;
}

/** Whether the input delivers something within INPUT_PROBE_TIMEOUT_MS when ffmpeg reads only it. */
async function delivers(options: Pick<WatchdogOptions, 'supervisor' | 'ffmpegPath'>, input: CaptureInput): Promise<boolean> {
  const probe = options.supervisor.spawn(
    `ffmpeg-probe-${input.format}`,
    options.ffmpegPath,
    ['-hide_banner', '-nostdin', '-v', 'error', ...input.args, '-frames', '1', '-f', 'null', '-'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exit = await Promise.race([probe.exited, delay(INPUT_PROBE_TIMEOUT_MS, undefined, { ref: false })]);
  if (!exit) {
    // What it was stuck on is the answer; no grace needed.
    await probe.kill(0);
    return false;
  }
  return exit.code === 0;
}
