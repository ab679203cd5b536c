/**
 * What a track recording writes beside its crash-safe capture (workDir/capture.json) as soon as the track is
 * received: the type of the file users get (it follows the codec) and the naming variables learnt in the
 * room. Should the recorder die, the salvage job (workers/upload/salvage-job.ts) names and types the file it
 * makes from the capture with them, as the recorder would have.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { FileType } from '../../shared/egress-plan.ts';
import type { NamingVars } from '../../shared/naming.ts';

export interface CaptureInfo {
  fileType: FileType;
  namingVars: Partial<NamingVars>;
}

const NAME = 'capture.json';

export async function writeCaptureInfo(workDir: string, info: CaptureInfo): Promise<void> {
  await writeFile(join(workDir, NAME), JSON.stringify(info));
}

/** Writes the capture's info in the background; a failure is logged (the recording goes on, only a salvage would lack it). */
export function announceCapture(workDir: string, info: CaptureInfo, log: Logger): void {
  void writeCaptureInfo(workDir, info).catch((err: Error) => log.warn({ err: err.message }, 'capture info not written'));
}

/** The capture's info, if its recorder wrote one (undefined for other recorders, or if unreadable). */
export async function readCaptureInfo(workDir: string): Promise<CaptureInfo | undefined> {
  try {
    const info = JSON.parse(await readFile(join(workDir, NAME), 'utf8')) as CaptureInfo;
    return typeof info.fileType === 'string' ? info : undefined;
  } catch {
    return undefined;
  }
}
