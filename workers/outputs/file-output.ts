/**
 * The file output of a recording: where the recorder writes the file, and at the end the file under its
 * key (a track egress learns its container, so its key, only from the track), its duration, its upload
 * (a child of the finalize job) and its place for the manifest. The last part of a recording taken over by
 * another worker delivers one file made of every part (workers/takeover/), or each part apart when they
 * cannot be joined.
 */
import { rename, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Logger } from 'pino';
import type { EgressPlan } from '../../shared/egress-plan.ts';
import { EgressError } from '../../shared/errors.ts';
import { uploadJobId, type UploadJobData } from '../../shared/queues.ts';
import { mediaDurationSec } from '../capture/media-duration.ts';
import type { RecordingResult } from '../recording/recorder-contract.ts';
import { apartFinish, apartResults, type ApartFile } from '../takeover/apart-files.ts';
import { takenOverFile } from '../takeover/taken-over-file.ts';
import { fileResult } from '../upload/finalize-results.ts';
import { uploadJobOptions } from '../upload/upload-options.ts';
import type { FinalizedOutput, FinalizeInput, FinalizePart, OutputFinalizer, OutputOpening, OutputPluginOf, RunningOutput } from './output-plugin.ts';
import { fileOutputTarget, type OutputTarget } from './output-paths.ts';

/**
 * Required when plan.file: the absolute local path the finished file must be at (its extension matches
 * plan.file.fileType). Track egress: the container follows the track's codec whatever the plan says; the
 * recorder writes it here and reports its type in RecordingResult.file.fileType.
 */
export interface FileWiring {
  path: string;
}

/** What the recorder reported of the file, filled into the results once the upload location is known. */
export interface FileSummary {
  filename: string;
  localPath: string;
  startedAtMs: number;
  endedAtMs: number;
  sizeBytes: number;
  /** The file's own duration (its packets), reported as FileInfo.duration; unset if unreadable: endedAt − startedAt. */
  durationSec?: number;
  /** A recording taken over (shared/takeover/), its parts joined: each part's seconds in the file, [part, seconds]. */
  partsSec?: [number, number][];
  /** A recording taken over whose parts could not be joined: each part delivered on its own, and why. */
  apart?: { files: ApartFile[]; note: string };
}

declare module '../../shared/queues.ts' {
  interface FinalizeResults {
    file: FileSummary;
  }
}

/** Track egress: the container (so the key) follows the track's codec, known once the track is received. */
const keyAfterRecording = (plan: EgressPlan) => plan.source.kind === 'track';

/** The file's result: its upload (the finalize job's child) says where it landed and its size. */
const fileFinalizer: OutputFinalizer<FileSummary> = {
  resultsIn: (data) => data.file,
  finalize: async ({ children }, file) => {
    if (file.apart) return apartFinalized(file.apart, children);
    const info = fileResult(
      file,
      children.find((u) => u.output === 'file'),
    );
    return {
      fill: (egress) => (egress.fileResults = [info]),
      single: { case: 'file', value: info },
      manifest: { files: [{ filename: info.filename, location: info.location }] },
    };
  },
};

export const fileOutput: OutputPluginOf<'file', FileWiring, FileSummary> = {
  kind: 'file',
  inPlan: (plan) => plan.file !== undefined,
  maxDuration: 'file_output_max_duration',
  live: false,
  open: async (opening) => openFile(opening),
  finalizer: fileFinalizer,
};

/** Each part its own FileInfo; the egress says why they are apart. */
function apartFinalized(apart: NonNullable<FileSummary['apart']>, children: FinalizeInput['children']): FinalizedOutput {
  const infos = apartResults(apart, children, fileResult);
  return {
    fill: (egress) => {
      egress.fileResults = infos;
      egress.error = egress.error ? `${egress.error}; ${apart.note}` : apart.note;
    },
    manifest: { files: infos.map((info) => ({ filename: info.filename, location: info.location })) },
  };
}

function openFile({ ctx, plan, workDir, log, part }: OutputOpening): RunningOutput<{ file: FileWiring }> {
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
      // A part after a takeover: the earlier parts' captures and this file become one file (or stay apart).
      const fileType = result.file.fileType ?? plan.file?.fileType;
      const taken = part && fileType && fileType !== 'auto' ? await takenOverFile(ctx.config, plan, part, localPath, fileType, log) : undefined;
      if (part && taken?.joined === false) {
        return { ...(await apartFinish(ctx.config, plan, target, part, taken, result)), ...manifestPlace(plan, target) };
      }
      const joined = taken?.joined ? taken : undefined;
      const file = joined ? { ...result.file, path: joined.path, sizeBytes: (await stat(joined.path)).size } : { ...result.file, path: localPath };
      const startedAtMs = part?.earlier[0]?.startedAtMs ?? result.startedAtMs;
      const partsSec = joined && joined.parts.length > 1 ? joined.parts.map((p): [number, number] => [p.part, p.durationSec]) : undefined;
      return finishedFile(ctx.config, plan, target, { ...result, startedAtMs, file }, log, partsSec);
    },
  };
}

async function finishedFile(
  config: OutputOpening['ctx']['config'],
  plan: EgressPlan,
  target: OutputTarget,
  result: RecordingResult & { file: NonNullable<RecordingResult['file']> },
  log: Logger,
  partsSec?: [number, number][],
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
        ...(partsSec ? { partsSec } : {}),
      },
    },
    uploads: [{ name: 'upload', queueName: 'upload', data: upload, opts: { jobId: uploadJobId.file(egressId), ...uploadJobOptions(config) } }],
    ...manifestPlace(plan, target),
  };
}

/** The manifest goes beside the file, unless the request disabled it. */
function manifestPlace(plan: EgressPlan, target: OutputTarget): Pick<FinalizePart, 'manifestBeside'> {
  return plan.file?.disableManifest ? {} : { manifestBeside: target };
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
