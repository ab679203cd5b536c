/**
 * One file from the parts of a recording that changed workers (a takeover): each worker's file, made from its
 * crash-safe capture as usual (the killed worker's by recover-capture.ts, the last one's by the capture's
 * remux), joined without re-encoding by FFmpeg's concat demuxer. The parts come from one plan, so one encoder setting: their streams match in codec,
 * size and rate (checked first: a mismatch would make a file that players stop in), and their timestamps are
 * laid end to end. The file's duration is the recorded time; the gap between parts is not in it (the manifest
 * lists it).
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { ALL_FORMATS, FilePathSource, Input } from 'mediabunny';
import type { FileType } from '../../shared/egress-plan.ts';
import { mediaDurationSec } from '../capture/media-duration.ts';
import { ownedChild } from '../process/owned-child.ts';

const run = promisify(execFile);

export interface JoinedFile {
  path: string;
  /** The joined file's duration, from its packets. */
  durationSec: number;
  /** Each part's duration, in order: where the gaps fall in the file. */
  partDurationsSec: number[];
}

/** What must be equal in every part for a join without re-encoding: each stream's codec and shape. */
export async function streamLayout(path: string): Promise<string> {
  const input = new Input({ source: new FilePathSource(path), formats: ALL_FORMATS });
  try {
    const video = await Promise.all(
      (await input.getVideoTracks()).map(
        async (t) => `video:${await t.getCodecParameterString()}:${await t.getCodedWidth()}x${await t.getCodedHeight()}`,
      ),
    );
    const audio = await Promise.all(
      (await input.getAudioTracks()).map(
        async (t) => `audio:${await t.getCodecParameterString()}:${await t.getSampleRate()}:${await t.getNumberOfChannels()}`,
      ),
    );
    return [...video, ...audio].join(' ');
  } finally {
    input.dispose();
  }
}

/** A line of the concat demuxer's list: a quoted path, quotes escaped as the demuxer reads them. */
function concatEntry(path: string): string {
  return `file '${path.replaceAll("'", "'\\''")}'`;
}

/**
 * Joins `parts` (remuxed files, in recording order) into `outPath`. Throws, naming the part, when a part's streams differ
 * from the first's; the caller then keeps the parts apart rather than deliver a broken file.
 */
export async function joinParts(ffmpegPath: string, parts: readonly string[], fileType: FileType, outPath: string): Promise<JoinedFile> {
  if (parts.length === 0) throw new Error('no parts to join');
  const layouts = await Promise.all(parts.map(streamLayout));
  const differing = layouts.findIndex((layout) => layout !== layouts[0]);
  if (differing > 0) throw new Error(`part ${differing + 1} has other streams (${layouts[differing]}) than the first (${layouts[0]})`);
  const list = join(dirname(outPath), `${fileType}-parts.txt`);
  await writeFile(list, parts.map(concatEntry).join('\n') + '\n');
  const args = [
    '-v',
    'error',
    '-y',
    '-f',
    'concat',
    '-safe',
    '0',
    '-i',
    list,
    '-c',
    'copy',
    ...(fileType === 'mp4' ? ['-movflags', '+faststart'] : []),
    outPath,
  ];
  const ffmpeg = ownedChild(ffmpegPath, args);
  await run(ffmpeg.command, ffmpeg.args, { env: ffmpeg.env });
  const [durationSec, ...partDurationsSec] = await Promise.all([outPath, ...parts].map(mediaDurationSec));
  return { path: outPath, durationSec: durationSec ?? 0, partDurationsSec };
}
