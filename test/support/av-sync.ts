/**
 * A/V sync of a recording of the test publisher (test/support/publisher.ts), measured from what it shows
 * and sounds: the onsets of its white flashes (mean luma of a frame region jumps) and of its beeps (the
 * audio's short-term RMS jumps), both once a second. Each flash is paired with the nearest beep; the
 * median of (beep − flash) is the sync error (positive: sound late).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
/** The bound the recordings are held to (issue 5): the median beep − flash offset, seconds. */
export const MAX_AV_OFFSET_SEC = 0.1;
const MAX_OUTPUT_BYTES = 1 << 30;

export interface AvSync {
  flashes: number[];
  beeps: number[];
  /** beep − flash, seconds, one per paired flash. */
  offsets: number[];
  medianOffsetSec: number;
}

/** Seconds at which the region (fractions of the frame: x, y, w, h) turns bright, from the decoded video. */
export async function flashOnsets(path: string, region = { x: 0, y: 0, w: 1, h: 1 }): Promise<number[]> {
  const size = 32;
  const { stdout: info } = await run('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-show_entries',
    'stream=avg_frame_rate',
    '-of',
    'csv=p=0',
    path,
  ]);
  const [num = 0, den = 1] = info.trim().split('/').map(Number);
  const fps = den ? num / den : 30;
  const crop = `crop=iw*${region.w}:ih*${region.h}:iw*${region.x}:ih*${region.y}`;
  const { stdout } = await run(
    'ffmpeg',
    ['-v', 'error', '-i', path, '-map', '0:v:0', '-vf', `${crop},scale=${size}:${size},format=gray`, '-f', 'rawvideo', '-'],
    {
      encoding: 'buffer',
      maxBuffer: MAX_OUTPUT_BYTES,
    },
  );
  const means: number[] = [];
  for (let at = 0; at + size * size <= stdout.length; at += size * size) {
    let sum = 0;
    for (let i = at; i < at + size * size; i++) sum += stdout[i]!;
    means.push(sum / (size * size));
  }
  const onsets: number[] = [];
  for (let i = 1; i < means.length; i++) if (means[i]! > 200 && means[i - 1]! <= 200) onsets.push(i / fps);
  return onsets;
}

/** Seconds at which the audio goes from quiet to loud (5 ms RMS windows), at most one per 500 ms. */
export async function beepOnsets(path: string): Promise<number[]> {
  const rate = 48_000;
  const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', path, '-map', '0:a:0', '-ac', '1', '-ar', String(rate), '-f', 's16le', '-'], {
    encoding: 'buffer',
    maxBuffer: MAX_OUTPUT_BYTES,
  });
  const samples = new Int16Array(stdout.buffer, stdout.byteOffset, Math.floor(stdout.length / 2));
  const window = rate / 200;
  const onsets: number[] = [];
  let loud = false;
  for (let at = 0; at + window <= samples.length; at += window) {
    let sum = 0;
    for (let i = at; i < at + window; i++) sum += samples[i]! * samples[i]!;
    const rms = Math.sqrt(sum / window) / 32768;
    const nowLoud = rms > 0.05;
    const t = at / rate;
    if (nowLoud && !loud && (onsets.length === 0 || t - onsets.at(-1)! > 0.5)) onsets.push(t);
    loud = nowLoud;
  }
  return onsets;
}

/** Only flashes from `fromSec` and before `untilSec` count (e.g. the region showed the sounding participant until then). */
export async function measureAvSync(
  path: string,
  region?: { x: number; y: number; w: number; h: number },
  options: { fromSec?: number; untilSec?: number } = {},
): Promise<AvSync> {
  const [allFlashes, beeps] = await Promise.all([flashOnsets(path, region), beepOnsets(path)]);
  const flashes = allFlashes.filter((t) => t >= (options.fromSec ?? 0) && t < (options.untilSec ?? Infinity));
  const offsets: number[] = [];
  for (const flash of flashes) {
    const nearest = beeps.reduce<number | undefined>(
      (best, beep) => (best === undefined || Math.abs(beep - flash) < Math.abs(best - flash) ? beep : best),
      undefined,
    );
    if (nearest !== undefined && Math.abs(nearest - flash) < 0.5) offsets.push(nearest - flash);
  }
  const sorted = [...offsets].sort((a, b) => a - b);
  const medianOffsetSec = sorted.length ? sorted[Math.floor(sorted.length / 2)]! : Number.NaN;
  return { flashes, beeps, offsets, medianOffsetSec };
}
