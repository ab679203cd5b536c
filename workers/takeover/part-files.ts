/**
 * The file of a recording taken over by other workers, from its parts: each earlier part's crash-safe capture
 * made into a file as the salvage makes it (recover-capture.ts), the last part's file as its capture ended,
 * all joined into one without re-encoding (join-parts.ts). When a part's streams differ from the first's the
 * join is refused: then every part is delivered on its own, under the file's key with a `_part<n>` suffix,
 * and the egress says so. No part is ever dropped because another could not be joined to it.
 */
import { rename } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../../shared/config/load.ts';
import type { EgressPlan, FileType } from '../../shared/egress-plan.ts';
import type { RecordedPart } from '../../shared/takeover/part-log.ts';
import { partWorkDir } from '../../shared/takeover/takeover.ts';
import type { OutputTarget } from '../outputs/output-paths.ts';
import { recoverCapture } from '../upload/recover-capture.ts';
import { joinParts } from './join-parts.ts';

/** One part's playable file. */
export interface PartFile {
  part: number;
  path: string;
  durationSec: number;
}

/** The parts as one file, or, when they cannot be joined, each on its own and why. */
export type PartsOutcome =
  { joined: true; path: string; durationSec: number; parts: PartFile[] } | { joined: false; parts: PartFile[]; reason: string };

/** Where the earlier parts recorded: the part log's directories, or the ones partWorkDir gives. */
export function earlierPartDirs(
  tmpDir: string,
  egressId: string,
  parts: readonly RecordedPart[],
  beforePart: number,
): { part: number; workDir: string }[] {
  const logged = new Map(parts.map((p) => [p.part, p.workDir]));
  return Array.from({ length: Math.max(0, beforePart - 1) }, (_, i) => ({
    part: i + 1,
    workDir: logged.get(i + 1) ?? partWorkDir(tmpDir, egressId, i + 1),
  }));
}

/** The recovered parts, and the key and type of the file they make (the first recovered part's). */
export interface RecoveredParts {
  files: PartFile[];
  target?: OutputTarget;
  fileType?: FileType;
}

/** Each directory's capture made into a playable file; parts that recorded nothing are left out. */
export async function recoveredParts(
  config: Pick<LoadedConfig, 'ffmpeg_path' | 'storage'>,
  plan: EgressPlan,
  dirs: readonly { part: number; workDir: string }[],
  log: Logger,
): Promise<RecoveredParts> {
  const found: RecoveredParts = { files: [] };
  for (const { part, workDir } of dirs) {
    const recovered = await recoverCapture(config, plan, workDir, log.child({ part })).catch((err: Error) => err.message);
    if (typeof recovered === 'string') {
      log.warn({ part, workDir, why: recovered }, 'a part left no file');
      continue;
    }
    found.files.push({ part, path: recovered.path, durationSec: recovered.durationSec });
    found.target ??= recovered.target;
    found.fileType ??= recovered.fileType;
  }
  return found;
}

/**
 * `parts` (in order) as one file at `outPath`, or apart when their streams differ. A single part is the file
 * itself, moved to `outPath`.
 */
export async function joinedParts(
  ffmpegPath: string,
  parts: readonly PartFile[],
  fileType: FileType,
  outPath: string,
  log: Logger,
): Promise<PartsOutcome> {
  if (parts.length === 1) {
    await rename(parts[0]!.path, outPath);
    return { joined: true, path: outPath, durationSec: parts[0]!.durationSec, parts: [{ ...parts[0]!, path: outPath }] };
  }
  try {
    const joined = await joinParts(
      ffmpegPath,
      parts.map((p) => p.path),
      fileType,
      outPath,
    );
    const measured = parts.map((p, i) => ({ ...p, durationSec: joined.partDurationsSec[i] ?? p.durationSec }));
    return { joined: true, path: joined.path, durationSec: joined.durationSec, parts: measured };
  } catch (err) {
    const reason = (err as Error).message;
    log.warn({ err: reason, parts: parts.map((p) => p.part) }, 'the parts of the recording cannot be joined; each is delivered on its own');
    return { joined: false, parts: [...parts], reason };
  }
}

/** The key of part `part` delivered on its own: `<name>_part<n>.<ext>` beside the file's key. */
export function partKey(key: string, part: number): string {
  const name = posix.basename(key);
  const dot = name.lastIndexOf('.');
  const stem = dot > 0 ? name.slice(0, dot) : name;
  const ext = dot > 0 ? name.slice(dot) : '';
  return posix.join(posix.dirname(key), `${stem}_part${part}${ext}`);
}

/** What the egress says when its parts are delivered apart. */
export function keptApartNote(outcome: Extract<PartsOutcome, { joined: false }>): string {
  return `the recording was taken over by another worker and its ${outcome.parts.length} parts could not be joined (${outcome.reason}): each part is delivered on its own (_part<n>)`;
}
