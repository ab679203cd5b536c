/**
 * The end of a recording stopped by a shutdown while Redis is gone. Its end, its upload jobs and its
 * webhooks all live in Redis, so what can be done without it is done here: the file is made from the
 * crash-safe capture and, when it goes to the service's local disk, put there (the recordings directory);
 * what could not be done is logged with the egress id. The capture stays in tmp_dir: once Redis is back (with
 * its data), the reaper ends the egress FAILED and the salvage job delivers the capture to the same key and
 * records where it is. A later part of a recording taken over (shared/takeover/) makes the one file from every
 * part's directory (found without Redis: partWorkDir), as the salvage would.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../../shared/config/load.ts';
import type { EgressPlan } from '../../shared/egress-plan.ts';
import { configuredBackend } from '../storage/backends.ts';
import { createLocalBackend } from '../storage/local.ts';
import { earlierPartDirs, joinedParts, recoveredParts } from '../takeover/part-files.ts';
import { recoverCapture, type RecoveredFile } from './recover-capture.ts';

const UNRECORDED = 'Redis is unavailable at shutdown: the end of the egress could not be recorded (the reaper ends it once Redis is back)';

/**
 * What became of the recording, for the job's result. `log` names the egress; `part`: the part this worker
 * recorded (1 unless it took the egress over). Never throws: a failure is logged.
 */
export async function finalizeWithoutRedis(config: LoadedConfig, plan: EgressPlan, cause: Error, log: Logger, part = 1): Promise<string> {
  const dirs = earlierPartDirs(config.tmp_dir, plan.egressId, [], part + 1);
  const workDir = dirs.at(-1)!.workDir;
  try {
    const recovered = plan.file ? await recoveredFile(config, plan, dirs, log) : 'no file output';
    if (typeof recovered === 'string') {
      log.error({ workDir, err: cause.message, file: recovered }, `${UNRECORDED}; what it recorded is in its working directory`);
      return `Redis unavailable: ${recovered}`;
    }
    if (recovered.target.storage.kind !== 'service' || configuredBackend(config.storage)) {
      // Cloud uploads take their credentials and retries from Redis (and may take long): the next start's salvage does it.
      log.error({ path: recovered.path, err: cause.message }, `${UNRECORDED}; its file was not uploaded and is in tmp_dir`);
      return 'Redis unavailable: file kept in tmp_dir';
    }
    const { size } = await stat(recovered.path);
    const local = createLocalBackend(config.storage.local.directory);
    const { location } = await local.uploadFile(recovered.path, recovered.target.key, { contentType: recovered.target.contentType, sizeBytes: size });
    log.error({ location, durationSec: recovered.durationSec, err: cause.message }, `${UNRECORDED}; its file is finalized at ${location}`);
    return 'Redis unavailable: file finalized locally';
  } catch (err) {
    log.error({ workDir, err: (err as Error).message }, `${UNRECORDED}; its file could not be finalized and is in its working directory`);
    return 'Redis unavailable: not finalized';
  }
}

/** The one file of every part (one part: its capture made into a file), or why there is none. */
async function recoveredFile(
  config: LoadedConfig,
  plan: EgressPlan,
  dirs: readonly { part: number; workDir: string }[],
  log: Logger,
): Promise<RecoveredFile | string> {
  if (dirs.length === 1) return recoverCapture(config, plan, dirs[0]!.workDir, log);
  const { files, target, fileType } = await recoveredParts(config, plan, dirs, log);
  if (!target || !fileType || files.length === 0) return 'nothing to salvage';
  const outcome = await joinedParts(config.ffmpeg_path, files, fileType, join(dirs.at(-1)!.workDir, `joined.${fileType}`), log);
  // Parts that cannot be joined stay in tmp_dir: the salvage, once Redis is back, delivers each on its own.
  if (!outcome.joined) return `parts not joined (${outcome.reason})`;
  return { path: outcome.path, target, fileType, durationSec: outcome.durationSec };
}
