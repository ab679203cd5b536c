/**
 * The file output of a recording: where the recorder writes the file, and at the end the file under its
 * key (a track egress learns its container, so its key, only from the track), its duration, its upload
 * (a child of the finalize job) and its place for the manifest.
 */
import { rename } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Logger } from 'pino';
import type { EgressPlan } from '../../shared/egress-plan.ts';
import { EgressError } from '../../shared/errors.ts';
import { uploadJobId, type UploadJobData } from '../../shared/queues.ts';
import { mediaDurationSec } from '../capture/media-duration.ts';
import type { RecordingResult } from '../recording/recorder-contract.ts';
import { uploadJobOptions } from '../upload/upload-options.ts';
import type { FinalizePart, OutputOpening, OutputPlugin, RunningOutput } from './output-plugin.ts';
import { fileOutputTarget, type OutputTarget } from './output-paths.ts';

/** Track egress: the container (so the key) follows the track's codec, known once the track is received. */
const keyAfterRecording = (plan: EgressPlan) => plan.source.kind === 'track';

export const fileOutput: OutputPlugin = {
  kind: 'file',
  inPlan: (plan) => plan.file !== undefined,
  maxDuration: 'file_output_max_duration',
  live: false,
  open: async (opening) => openFile(opening),
};

function openFile({ ctx, plan, workDir, log }: OutputOpening): RunningOutput {
  const prefix = ctx.config.storage.prefix;
  const planned = keyAfterRecording(plan) ? undefined : fileOutputTarget(plan, prefix);
  const path = planned ? join(workDir, basename(planned.key)) : join(workDir, 'track-recording');
  return {
    wiring: { file: { path } },
    finish: async (result) => {
      if (!result.file) throw new EgressError('EGR_ERR_ENCODER_FAILED', 'the recording produced no file');
      const target = planned ?? fileOutputTarget(plan, prefix, { fileType: result.file.fileType, vars: result.namingVars });
      const localPath = planned ? result.file.path : join(workDir, basename(target.key));
      if (!planned) await rename(result.file.path, localPath);
      return finishedFile(ctx.config, plan, target, { ...result, file: { ...result.file, path: localPath } }, log);
    },
  };
}

async function finishedFile(
  config: OutputOpening['ctx']['config'],
  plan: EgressPlan,
  target: OutputTarget,
  result: RecordingResult & { file: NonNullable<RecordingResult['file']> },
  log: Logger,
): Promise<FinalizePart> {
  const { egressId } = plan;
  const { path, sizeBytes } = result.file;
  const upload: UploadJobData = {
    egressId,
    output: 'file',
    localPath: path,
    key: target.key,
    contentType: target.contentType,
    storage: target.storage,
  };
  return {
    data: {
      file: {
        filename: target.key,
        localPath: path,
        startedAtMs: result.startedAtMs,
        endedAtMs: result.endedAtMs,
        sizeBytes,
        ...(await fileDuration(path, log)),
      },
    },
    uploads: [{ name: 'upload', queueName: 'upload', data: upload, opts: { jobId: uploadJobId.file(egressId), ...uploadJobOptions(config) } }],
    ...(plan.file?.disableManifest ? {} : { manifestBeside: target }),
  };
}

/** The delivered file's own duration (FileInfo.duration): the wall-clock time of the recording can exceed it. */
async function fileDuration(path: string, log: Logger): Promise<{ durationSec?: number }> {
  try {
    return { durationSec: await mediaDurationSec(path) };
  } catch (err) {
    log.warn({ err: (err as Error).message }, "could not read the file's duration; reporting the recording's");
    return {};
  }
}
