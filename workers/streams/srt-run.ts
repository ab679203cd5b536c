/**
 * SRT through ffmpeg's libsrt: one `ffmpeg -c copy` sends the TS to the pinned address in caller mode, with
 * the options validation let through (stream-copy-args.ts). Progress is ffmpeg's `total_size`, which it
 * reports once the peer accepted the connection.
 */
import { createInterface } from 'node:readline';
import { describeExit, type Supervisor } from '../process/processes.ts';
import type { CopyRun } from './copy-run.ts';
import type { PinnedDestination } from './pinned-destination.ts';
import { srtCopyArgs } from './stream-copy-args.ts';

export function startSrtRun(pinned: PinnedDestination, supervisor: Supervisor, ffmpegPath: string): CopyRun {
  const ffmpeg = supervisor.spawn('ffmpeg-stream', ffmpegPath, srtCopyArgs(pinned));
  const listeners: ((bytes: number) => void)[] = [];
  let totalSize = 0;
  createInterface({ input: ffmpeg.child.stdout! }).on('line', (line) => {
    if (line.startsWith('total_size=')) totalSize = Number(line.slice('total_size='.length)) || 0;
    else if (line.startsWith('progress=')) for (const listener of listeners) listener(totalSize);
  });
  return {
    input: ffmpeg.child.stdin!,
    // ffmpeg's last two error lines, on one line as StreamInfo.error is shown.
    ended: ffmpeg.exited.then((exit) => describeExit(exit, ffmpeg, 2).replaceAll('\n', '; ')),
    onProgress: (callback) => void listeners.push(callback),
    kill: (graceMs) => ffmpeg.kill(graceMs),
  };
}
