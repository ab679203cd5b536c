/**
 * The end of an egress. It runs once every upload of the egress has finished: the file's upload is its
 * child in a BullMQ flow; segments and images went to storage while recording, and it waits for them by
 * their deterministic job ids (moving itself back to delayed), so all of it survives worker restarts.
 * Then each output kind with results makes its part (the final playlists, EgressInfo's results, the
 * manifest's lists: OutputPlugin.finalizer), the manifest is written and the terminal status set.
 * A failed upload leaves its file on local disk and the egress FAILED with the upload error. A recording
 * that failed after it started (status `failed`: a track egress that lost its room) ends FAILED with its
 * error once its file is delivered.
 */
import { DelayedError, type Job } from 'bullmq';
import type { ServiceContext } from '../../shared/context.ts';
import { nowNanos } from '../../shared/ids.ts';
import type { FinalizeJobData, UploadResult } from '../../shared/queues.ts';
import { buildManifest } from '../outputs/manifest.ts';
import { OUTPUT_PLUGINS } from '../outputs/output-kinds.ts';
import type { FinalizedOutput, FinalizeInput, ManifestOutputs, OutputPlugin } from '../outputs/output-plugin.ts';
import { manifestParts } from '../takeover/manifest-parts.ts';
import { removePartDirs } from '../takeover/part-dirs.ts';
import { deliveredEnd, manifestOutputsOf, resultsFiller, uploadsFailedEnd, type DeliveredUpload } from './finalize-results.ts';
import { isLastAttempt } from './upload-options.ts';
import type { Delivery } from '../storage/delivery.ts';

const RECHECK_MS = 1000;

/** Every kind, as the finalize job sees it: its results in the job data, if any (the registry's order). */
const KINDS: readonly OutputPlugin[] = OUTPUT_PLUGINS;

interface RecordingUploads {
  uploads: DeliveredUpload[];
  failures: string[];
  pending: number;
}

/** The job ids of every upload made while recording (segments, their playlists, images), as each kind lists them. */
function idsWhileRecording(data: FinalizeJobData): string[] {
  return KINDS.flatMap(({ finalizer }) => {
    const results = finalizer?.resultsIn(data);
    return results === undefined ? [] : (finalizer?.uploadsWhileRecording?.(data.egressId, results) ?? []);
  });
}

/** The state of every upload made while recording. */
async function deliveredWhileRecording(ctx: ServiceContext, data: FinalizeJobData): Promise<RecordingUploads> {
  const queue = ctx.queues.get('upload');
  const delivered: RecordingUploads = { uploads: [], failures: [], pending: 0 };
  for (const id of idsWhileRecording(data)) {
    const job = await queue.getJob(id);
    if (!job) continue; // removed by retention: long done
    const state = await job.getState();
    if (state === 'completed') {
      if (job.name === 'upload') delivered.uploads.push({ data: job.data, result: job.returnvalue as UploadResult });
    } else if (state === 'failed') {
      // A playlist that failed is rewritten below; a lost segment or image is a failed upload.
      if (job.name === 'upload') delivered.failures.push(`${job.data.key}: ${job.failedReason}`);
    } else delivered.pending += 1;
  }
  return delivered;
}

/** Each kind with results makes its part of the end, in registry order. */
async function finalizedOutputs(input: FinalizeInput): Promise<FinalizedOutput[]> {
  const parts: FinalizedOutput[] = [];
  for (const { finalizer } of KINDS) {
    const results = finalizer?.resultsIn(input.job.data);
    if (finalizer && results !== undefined) parts.push(await finalizer.finalize(input, results));
  }
  return parts;
}

export function finalizeProcessor(ctx: ServiceContext, delivery: Delivery) {
  return async (job: Job<FinalizeJobData>, token?: string): Promise<void> => {
    const { egressId } = job.data;
    const whileRecording = await deliveredWhileRecording(ctx, job.data);
    if (whileRecording.pending > 0) {
      await job.moveToDelayed(Date.now() + RECHECK_MS, token);
      throw new DelayedError();
    }
    const children = Object.values(await job.getChildrenValues<UploadResult>());
    const failures = [...Object.values(await job.getIgnoredChildrenFailures()), ...whileRecording.failures];
    const parts = await finalizedOutputs({ ctx, delivery, job, children, delivered: whileRecording.uploads });
    const fillResults = resultsFiller(parts);
    if (failures.length > 0) {
      await ctx.events.end(egressId, uploadsFailedEnd(job.data, failures), fillResults);
      return;
    }
    // Everything is delivered: the recorder's working directories (one per part) can go (with a failure they stay, files and all).
    await removePartDirs(ctx, egressId);
    const manifestLocation = job.data.manifest && (await deliverManifest(ctx, delivery, job, manifestOutputsOf(parts)));
    await ctx.events.end(egressId, deliveredEnd(job.data), (info) => {
      fillResults(info);
      if (manifestLocation) info.manifestLocation = manifestLocation;
    });
  };
}

/** The manifest goes last: it lists where everything else landed. */
async function deliverManifest(ctx: ServiceContext, delivery: Delivery, job: Job<FinalizeJobData>, outputs: ManifestOutputs): Promise<string> {
  const { manifest, plan, egressId } = job.data;
  const info = await ctx.events.store.get(egressId);
  const body = buildManifest(
    plan,
    {
      startedAtNs: info?.startedAt ?? 0n,
      endedAtNs: nowNanos(),
      roomId: info?.roomId,
      learnt: job.data.learnt,
      // A recording taken over: its parts and gaps, each part's end from what the file holds of it.
      takeover: await manifestParts(ctx, egressId, new Map(job.data.file?.partsSec ?? [])),
    },
    outputs,
  );
  const text = `${JSON.stringify(body, null, 2)}\n`;
  const delivered = await delivery.deliver({
    egressId,
    storage: manifest!.storage,
    key: manifest!.key,
    payload: { text },
    contentType: 'application/json',
    lastAttempt: isLastAttempt(job),
  });
  return delivered.location;
}
