/**
 * The end of an egress. It runs once every upload of the egress has finished: the file's upload is its
 * child in a BullMQ flow; segments and images went to storage while recording, and it waits for them by
 * their deterministic job ids (moving itself back to delayed), so all of it survives worker restarts.
 * Then it writes the final playlists and the manifest, fills in the results and sets the terminal status.
 * A failed upload leaves its file on local disk and the egress FAILED with the upload error. A recording
 * that failed after it started (status `failed`: a track egress that lost its room) ends FAILED with its
 * error once its file is delivered.
 */
import { DelayedError, type Job } from 'bullmq';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServiceContext } from '../../shared/context.ts';
import { nowNanos } from '../../shared/ids.ts';
import { uploadJobId, type FinalizeJobData, type SegmentsSummary, type UploadResult } from '../../shared/queues.ts';
import { buildManifest, type ManifestFile } from '../outputs/manifest.ts';
import { deliveredEnd, fileResult, imagesResult, resultsFiller, segmentsResult, uploadsFailedEnd, type DeliveredUpload } from './finalize-results.ts';
import { isLastAttempt } from './upload-options.ts';
import type { Delivery } from '../storage/delivery.ts';
import { writePlaylists } from './playlist-job.ts';

const RECHECK_MS = 1000;

interface RecordingUploads {
  uploads: DeliveredUpload[];
  failures: string[];
  pending: number;
}

/** The state of every upload made while recording (segments, their playlists, images). */
async function deliveredWhileRecording(ctx: ServiceContext, data: FinalizeJobData): Promise<RecordingUploads> {
  const { egressId, segments, images = [] } = data;
  const ids: string[] = [];
  for (let i = 0; i < (segments?.count ?? 0); i++) ids.push(uploadJobId.segment(egressId, i), uploadJobId.playlist(egressId, i + 1));
  for (const image of images) for (let i = 0; i < image.count; i++) ids.push(uploadJobId.image(egressId, image.outputIndex, i));
  const queue = ctx.queues.get('upload');
  const delivered: RecordingUploads = { uploads: [], failures: [], pending: 0 };
  for (const id of ids) {
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

export function finalizeProcessor(ctx: ServiceContext, delivery: Delivery) {
  return async (job: Job<FinalizeJobData>, token?: string): Promise<void> => {
    const { egressId, segments, images = [] } = job.data;
    const whileRecording = await deliveredWhileRecording(ctx, job.data);
    if (whileRecording.pending > 0) {
      await job.moveToDelayed(Date.now() + RECHECK_MS, token);
      throw new DelayedError();
    }
    const children = Object.values(await job.getChildrenValues<UploadResult>());
    const failures = [...Object.values(await job.getIgnoredChildrenFailures()), ...whileRecording.failures];
    const fileInfo = fileResult(
      job.data.file,
      children.find((u) => u.output === 'file'),
    );
    const segmentsPart = segments ? await finalSegments(ctx, delivery, job, segments, whileRecording.uploads) : undefined;
    const imagesPart = imagesResult(images, whileRecording.uploads);
    const fillResults = resultsFiller(fileInfo, segmentsPart?.info, imagesPart.infos);
    if (failures.length > 0) {
      await ctx.events.end(egressId, uploadsFailedEnd(job.data, failures), fillResults);
      return;
    }
    // Everything is delivered: the recorder's working directory can go (with a failure it stays, files and all).
    await rm(join(ctx.config.tmp_dir, egressId), { recursive: true, force: true });
    const files: ManifestFile[] = fileInfo ? [{ filename: fileInfo.filename, location: fileInfo.location }] : [];
    const outputs = { files, playlists: segmentsPart ? [segmentsPart.playlist] : [], images: imagesPart.manifest };
    const manifestLocation = job.data.manifest && (await deliverManifest(ctx, delivery, job, outputs));
    await ctx.events.end(egressId, deliveredEnd(job.data), (info) => {
      fillResults(info);
      if (manifestLocation) info.manifestLocation = manifestLocation;
    });
  };
}

/** Writes the final playlists (with #EXT-X-ENDLIST), then makes the segments result from the segment log. */
async function finalSegments(
  ctx: ServiceContext,
  delivery: Delivery,
  job: Job<FinalizeJobData>,
  segments: SegmentsSummary,
  uploads: DeliveredUpload[],
) {
  const { egressId } = job.data;
  const written = await writePlaylists(
    ctx,
    delivery,
    {
      egressId,
      upTo: segments.count,
      segmentDurationSec: segments.segmentDurationSec,
      storage: segments.storage,
      mainKey: segments.playlistKey,
      ...(segments.livePlaylistKey ? { liveKey: segments.livePlaylistKey } : {}),
    },
    true,
    isLastAttempt(job),
  );
  return segmentsResult(segments, written, await ctx.segments.list(egressId), uploads);
}

/** The manifest goes last: it lists where everything else landed. */
async function deliverManifest(
  ctx: ServiceContext,
  delivery: Delivery,
  job: Job<FinalizeJobData>,
  outputs: Parameters<typeof buildManifest>[2],
): Promise<string> {
  const { manifest, plan, egressId } = job.data;
  const info = await ctx.events.store.get(egressId);
  const body = buildManifest(
    plan,
    { startedAtNs: info?.startedAt ?? 0n, endedAtNs: nowNanos(), roomId: info?.roomId, learnt: job.data.learnt },
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
