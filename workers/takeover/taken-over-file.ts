/**
 * The file output of the last part of a recording taken over by other workers: its own file, finished as
 * usual, comes after the earlier parts' captures made into files (recovered as the salvage recovers them),
 * and all are joined into one (part-files.ts). A recording of one part is its own file, untouched.
 */
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../../shared/config/load.ts';
import type { EgressPlan, FileType } from '../../shared/egress-plan.ts';
import { mediaDurationSec } from '../capture/media-duration.ts';
import { earlierPartDirs, joinedParts, recoveredParts, type PartsOutcome } from './part-files.ts';
import type { RecordingPart } from './recording-part.ts';

/** `lastPath`: this part's finished file. Undefined for a first part: nothing to join. */
export async function takenOverFile(
  config: Pick<LoadedConfig, 'ffmpeg_path' | 'storage' | 'tmp_dir'>,
  plan: EgressPlan,
  part: RecordingPart,
  lastPath: string,
  fileType: FileType,
  log: Logger,
): Promise<PartsOutcome | undefined> {
  if (part.number <= 1) return undefined;
  const dirs = earlierPartDirs(config.tmp_dir, plan.egressId, part.earlier, part.number);
  const { files } = await recoveredParts(config, plan, dirs, log);
  const last = { part: part.number, path: lastPath, durationSec: await mediaDurationSec(lastPath).catch(() => 0) };
  return joinedParts(config.ffmpeg_path, [...files, last], fileType, join(dirname(lastPath), `joined-parts.${fileType}`), log);
}
