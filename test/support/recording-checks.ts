/**
 * Checks on a recording of test publishers (test/support/publisher.ts): which participant colour a region
 * shows, whether a span is black, what the file opens on, how loud a span of the audio is.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { decodeFrameAt, type DecodedFrame } from './ffprobe.ts';
import { PARTICIPANT_COLOURS } from './publisher.ts';

const run = promisify(execFile);

export interface Region {
  x: number;
  y: number;
  w: number;
  h: number;
}
export const WHOLE: Region = { x: 0.05, y: 0.1, w: 0.9, h: 0.8 };

/** Which participant colour a decoded pixel is closest to (RGB distance), or `none (r,g,b)`. */
export function colourAt(frame: DecodedFrame, x: number, y: number): string {
  const { r, g, b } = frame.pixel(Math.round(x), Math.round(y));
  const rgbOf = ({ y: Y, u, v }: { y: number; u: number; v: number }) => ({
    r: Y + 1.402 * (v - 128),
    g: Y - 0.344 * (u - 128) - 0.714 * (v - 128),
    b: Y + 1.772 * (u - 128),
  });
  let best = '';
  let bestDistance = Infinity;
  for (const colour of PARTICIPANT_COLOURS) {
    const c = rgbOf(colour);
    const distance = (c.r - r) ** 2 + (c.g - g) ** 2 + (c.b - b) ** 2;
    if (distance < bestDistance) [best, bestDistance] = [colour.name, distance];
  }
  if (bestDistance < 60 ** 2) return best;
  return r < 30 && g < 30 && b < 30 ? 'black' : `none (${r},${g},${b})`;
}

/** The colour most of a region shows (5×5 samples). */
export function dominantColour(frame: DecodedFrame, region: Region = WHOLE): string {
  const votes = new Map<string, number>();
  for (let i = 0; i < 5; i++) {
    for (let j = 0; j < 5; j++) {
      const name = colourAt(frame, frame.width * (region.x + (region.w * (i + 0.5)) / 5), frame.height * (region.y + (region.h * (j + 0.5)) / 5));
      votes.set(name, (votes.get(name) ?? 0) + 1);
    }
  }
  return [...votes.entries()].sort((a, b) => b[1] - a[1])[0]![0];
}

/** The region's colour over a third of a second (three frames; a flash lasts 100 ms of each second): the majority. */
export async function colourOver(path: string, atSec: number, region: Region = WHOLE): Promise<string> {
  const names = await Promise.all([0, 0.33, 0.66].map(async (dt) => dominantColour(await decodeFrameAt(path, atSec + dt), region)));
  return names.find((name, i) => names.indexOf(name) !== i) ?? names.join('/');
}

/** The colour of the file's first frame: a participant's, `flash` (the publisher's white flash), `black`, or `none (r,g,b)`. */
export async function openingColour(path: string, region: Region = WHOLE): Promise<string> {
  const frame = await decodeFrameAt(path, 0);
  const { r, g, b } = frame.pixel(Math.round(frame.width * (region.x + region.w / 2)), Math.round(frame.height * (region.y + region.h / 2)));
  return r > 200 && g > 200 && b > 200 ? 'flash' : dominantColour(frame, region);
}

/** Peak and mean volume (dB) of the first audio stream between two times. */
export async function volumeBetween(path: string, fromSec: number, toSec: number): Promise<{ meanDb: number; maxDb: number }> {
  const { stderr } = await run('ffmpeg', [
    '-hide_banner',
    '-nostats',
    '-ss',
    String(fromSec),
    '-t',
    String(toSec - fromSec),
    '-i',
    path,
    '-map',
    '0:a:0',
    '-af',
    'volumedetect',
    '-f',
    'null',
    '-',
  ]);
  const db = (name: string) => {
    const value = new RegExp(`${name}: (-?[\\d.]+|-inf) dB`).exec(stderr)?.[1];
    if (value === undefined) throw new Error(`no ${name} measured in ${path} ${fromSec}–${toSec} s`);
    return value === '-inf' ? -Infinity : Number(value);
  };
  return { meanDb: db('mean_volume'), maxDb: db('max_volume') };
}
