/**
 * The file output when the parts of a recording taken over could not be joined (a part's streams differ from
 * the first's): every part is delivered on its own under the file's key with a `_part<n>` suffix, each with
 * its own upload and FileInfo, and the egress says why. What the file output's finish and its finalizer do
 * then (workers/outputs/file-output.ts).
 */
import type { FileInfo } from '@livekit/protocol';
import { stat } from 'node:fs/promises';
import type { LoadedConfig } from '../../shared/config/load.ts';
import type { EgressPlan } from '../../shared/egress-plan.ts';
import { uploadJobId, type UploadJobData, type UploadResult } from '../../shared/queues.ts';
import type { FileSummary } from '../outputs/file-output.ts';
import type { FinalizePart, FlowChild } from '../outputs/output-plugin.ts';
import type { OutputTarget } from '../outputs/output-paths.ts';
import { uploadJobOptions } from '../upload/upload-options.ts';
import { keptApartNote, partKey, type PartsOutcome } from './part-files.ts';
import type { RecordingPart } from './recording-part.ts';

/** One part delivered on its own: the file summary of its key. */
export type ApartFile = Omit<FileSummary, 'apart' | 'partsSec'> & { part: number };

/** The finish of a file output whose parts are kept apart: one upload per part. */
export async function apartFinish(
  config: LoadedConfig,
  plan: EgressPlan,
  target: OutputTarget,
  part: RecordingPart,
  outcome: Extract<PartsOutcome, { joined: false }>,
  ended: { startedAtMs: number; endedAtMs: number },
): Promise<Pick<FinalizePart, 'data' | 'uploads'>> {
  const startOf = new Map(part.earlier.map((p) => [p.part, p.startedAtMs]));
  const files: ApartFile[] = [];
  const uploads: FlowChild[] = [];
  for (const file of outcome.parts) {
    const startedAtMs = file.part === part.number ? ended.startedAtMs : (startOf.get(file.part) ?? ended.startedAtMs);
    const key = partKey(target.key, file.part);
    files.push({
      part: file.part,
      filename: key,
      localPath: file.path,
      startedAtMs,
      endedAtMs: startedAtMs + Math.round(file.durationSec * 1000),
      sizeBytes: (await stat(file.path)).size,
      durationSec: file.durationSec,
    });
    const upload: UploadJobData = {
      egressId: plan.egressId,
      output: 'file',
      localPath: file.path,
      key,
      contentType: target.contentType,
      storage: target.storage,
    };
    uploads.push({
      name: 'upload',
      queueName: 'upload',
      data: upload,
      opts: { jobId: `${uploadJobId.file(plan.egressId)}-part${file.part}`, ...uploadJobOptions(config) },
    });
  }
  const first = files[0]!;
  const summary: FileSummary = {
    filename: target.key,
    localPath: first.localPath,
    startedAtMs: first.startedAtMs,
    endedAtMs: ended.endedAtMs,
    sizeBytes: files.reduce((sum, f) => sum + f.sizeBytes, 0),
    apart: { files, note: keptApartNote(outcome) },
  };
  return { data: { file: summary }, uploads };
}

/** Each part's FileInfo, from its upload (matched by its key) or where it was left. */
export function apartResults(
  apart: NonNullable<FileSummary['apart']>,
  children: readonly UploadResult[],
  result: (file: ApartFile, upload: UploadResult | undefined) => FileInfo,
): FileInfo[] {
  return apart.files.map((file) =>
    result(
      file,
      children.find((u) => u.output === 'file' && u.location.endsWith(file.filename)),
    ),
  );
}
