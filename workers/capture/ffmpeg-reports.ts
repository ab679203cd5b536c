/**
 * What a capture's ffmpeg says as it runs: its progress counters (frames written, duplicated, dropped), when
 * it first encoded something, the wall-clock time its first frame was grabbed, and which inputs it has opened
 * (the clue to a stuck capture). Read from `-progress pipe:1` and stderr.
 */
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import type { SupervisedProcess } from '../process/processes.ts';
import type { CaptureStats } from '../recording/recorder-contract.ts';

export interface FfmpegReports {
  /** Resolves at the first progress report showing encoded output. */
  firstOutput: Promise<void>;
  /** The latest counters. */
  stats(): CaptureStats;
  /** Unix ms the first frame (audio-only: the first audio) was captured, once ffmpeg has said. */
  captureStartMs(): number | undefined;
  /** Formats of the inputs ffmpeg has opened so far (`pulse`, `x11grab`, `s16le`, `rawvideo`). */
  openedInputs(): ReadonlySet<string>;
}

/** One `key=value` line of a `-progress` block into the counters; true at a block's end with output in it. */
export function readProgressLine(line: string, stats: CaptureStats, progress: { outTimeUs: number }): boolean {
  const [key, value = ''] = line.split('=', 2);
  const number = Number(value);
  if (key === 'frame') stats.frames = number;
  else if (key === 'dup_frames') stats.duplicated = number;
  else if (key === 'drop_frames') stats.dropped = number;
  else if (key === 'out_time_us') progress.outTimeUs = number;
  else if (key === 'progress') return stats.frames > 0 || progress.outTimeUs > 0;
  return false;
}

/**
 * Follows what ffmpeg reports: `-progress pipe:1` blocks of key=value lines, each ended by
 * `progress=…`; and on stderr each input's first timestamp (`Input #1, x11grab, …` then
 * `Duration: N/A, start: <seconds>`), which x11grab and pulse take from the wall clock.
 */
export function followReports(ffmpeg: SupervisedProcess, log: Logger, rawStartedAtMs: number | undefined): FfmpegReports {
  const stats: CaptureStats = { frames: 0, duplicated: 0, dropped: 0 };
  const progress = { outTimeUs: 0 };
  let resolveFirstOutput = () => {};
  const firstOutput = new Promise<void>((resolve) => (resolveFirstOutput = resolve));
  createInterface({ input: ffmpeg.child.stdout! }).on('line', (line) => {
    if (readProgressLine(line, stats, progress)) resolveFirstOutput();
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
