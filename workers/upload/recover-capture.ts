/**
 * A recording's crash-safe capture, as its recorder left it in its working directory (fragmented MP4, Ogg,
 * MP3; a track egress: append-only Matroska for H.264, WebM, Ogg, with capture.json saying what file it
 * becomes and its naming variables), made into the file users get: remuxed without re-encoding (an MP4
 * with its index up front), with the key it goes to. The salvage job delivers it after a lost recorder; a
 * shutdown with Redis gone delivers it itself (finalize-without-redis.ts).
 */
import { execFile } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../../shared/config/load.ts';
import type { EgressPlan, FileType } from '../../shared/egress-plan.ts';
import { mediaDurationSec } from '../capture/media-duration.ts';
import { ownedChild } from '../process/owned-child.ts';
import { fileOutputTarget, type OutputTarget } from '../outputs/output-paths.ts';
import { readCaptureInfo } from '../track/capture-info.ts';

const run = promisify(execFile);

export interface RecoveredFile {
  /** The remuxed file, in the working directory. */
  path: string;
  target: OutputTarget;
  fileType: FileType;
  durationSec: number;
}

/** The recovered file, or why there is none ("nothing to salvage", "nothing recorded"). */
export async function recoverCapture(
  config: Pick<LoadedConfig, 'ffmpeg_path' | 'storage'>,
  plan: EgressPlan,
  workDir: string,
  log: Logger,
): Promise<RecoveredFile | string> {
  const capture = (await readdir(workDir).catch(() => [] as string[])).find((name) => /^capture\.(mp4|ogg|mp3|mkv|webm)$/.test(name));
  // Track egress: the file type follows the track's codec, and its name what the room told the recorder.
  const track = await readCaptureInfo(workDir);
  const fileType = track?.fileType ?? plan.file?.fileType;
  if (!capture || !plan.file || !fileType || fileType === 'auto') return 'nothing to salvage';
  const capturePath = join(workDir, capture);
  if ((await stat(capturePath)).size === 0) return 'nothing recorded';
  const target = fileOutputTarget(plan, config.storage.prefix, track ? { fileType, vars: track.namingVars } : {});
  const recovered = join(workDir, `recovered.${fileType}`);
  // A fragmented MP4 cut short is readable up to its last complete fragment, a streamable Matroska, WebM,
  // Ogg or MP3 up to its last complete frame: copy it into a normal file.
  const ffmpeg = ownedChild(config.ffmpeg_path, [
    '-v',
    'error',
    '-y',
    '-i',
    capturePath,
    '-c',
    'copy',
    ...(fileType === 'mp4' ? ['-movflags', '+faststart'] : []),
    recovered,
  ]);
  await run(ffmpeg.command, ffmpeg.args, { env: ffmpeg.env });
  const durationSec = await mediaDurationSec(recovered).catch((err: Error) => {
    log.warn({ err: err.message }, "could not read the recovered file's duration");
    return 0;
  });
  return { path: recovered, target, fileType, durationSec };
}
