/**
 * The end of an egress. It runs once every upload of the egress has finished: the file's upload is its
 * child in a BullMQ flow; segments and images went to storage while recording, and it waits for them by
 * their deterministic job ids (moving itself back to delayed), so all of it survives worker restarts.
 * Then it writes the final playlists and the manifest, fills in the results and sets the terminal status.
 * A failed upload leaves its file on local disk and the egress FAILED with the upload error. A recording
 * that failed after it started (status `failed`: a track egress that lost its room) ends FAILED with its
 * error once its file is delivered.
 */
import { EgressStatus, FileInfo, ImagesInfo, SegmentsInfo, type EgressInfo } from '@livekit/protocol';
import { DelayedError, type Job } from 'bullmq';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServiceContext } from '../../shared/context.ts';
import type { EgressEnd } from '../../shared/egress-events.ts';
import { ERRORS } from '../../shared/errors.ts';
import { msToNanos, nowNanos } from '../../shared/ids.ts';
import { uploadJobId, type FinalizeJobData, type UploadJobData, type UploadResult } from '../../shared/queues.ts';
import { buildManifest, type ManifestFile, type ManifestImage, type ManifestPlaylist } from '../outputs/manifest.ts';
import { isLastAttempt } from './upload-options.ts';
import type { Delivery } from '../storage/delivery.ts';
import { writePlaylists } from './playlist-job.ts';

const RECHECK_MS = 1000;

interface RecordingUploads {
  uploads: { data: UploadJobData; result: UploadResult }[];
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
    const { egressId, file, segments, images = [] } = job.data;
    const whileRecording = await deliveredWhileRecording(ctx, job.data);
    if (whileRecording.pending > 0) {
      await job.moveToDelayed(Date.now() + RECHECK_MS, token);
      throw new DelayedError();
    }
    const children = Object.values(await job.getChildrenValues<UploadResult>());
    const failures = [...Object.values(await job.getIgnoredChildrenFailures()), ...whileRecording.failures];
    const fileUpload = children.find((u) => u.output === 'file');
    const fileInfo = file
      ? new FileInfo({
          filename: file.filename,
          startedAt: msToNanos(file.startedAtMs),
          endedAt: msToNanos(file.endedAtMs),
          duration: file.durationSec !== undefined ? msToNanos(file.durationSec * 1000) : msToNanos(file.endedAtMs - file.startedAtMs),
          size: BigInt(fileUpload?.sizeBytes ?? file.sizeBytes),
          // Not delivered: the file is still where the recorder left it, and that is where to find it.
          location: fileUpload?.location ?? file.localPath,
        })
      : undefined;

    let segmentsInfo: SegmentsInfo | undefined;
    let playlists: ManifestPlaylist[] = [];
    if (segments) {
      const written = await writePlaylists(
        ctx,
        delivery,
        { egressId, upTo: segments.count, segmentDurationSec: segments.segmentDurationSec, storage: segments.storage, mainKey: segments.playlistKey, ...(segments.livePlaylistKey ? { liveKey: segments.livePlaylistKey } : {}) },
        true,
        isLastAttempt(job),
      );
      const logged = await ctx.segments.list(egressId);
      const locations = new Map(whileRecording.uploads.filter((u) => u.data.output === 'segment').map((u) => [u.data.key, u.result.location]));
      segmentsInfo = new SegmentsInfo({
        playlistName: segments.playlistKey,
        livePlaylistName: segments.livePlaylistKey,
        playlistLocation: written.main ?? '',
        livePlaylistLocation: written.live ?? '',
        segmentCount: BigInt(logged.length),
        duration: msToNanos(logged.reduce((sum, s) => sum + s.durationSec * 1000, 0)),
        size: BigInt(logged.reduce((sum, s) => sum + s.sizeBytes, 0)),
        startedAt: msToNanos(segments.startedAtMs),
        endedAt: msToNanos(segments.endedAtMs),
      });
      playlists = [{ location: written.main ?? '', segments: logged.map((s) => ({ filename: s.filename, location: locations.get(s.key) ?? '' })) }];
    }
    const imageUploads = whileRecording.uploads.filter((u) => u.data.output === 'image');
    const manifestImages: ManifestImage[] = imageUploads.map((u) => ({ filename: u.data.key, timestamp: new Date(u.data.capturedAtMs ?? 0).toISOString(), location: u.result.location }));
    const imagesInfo = images.map(
      (i) => new ImagesInfo({ filenamePrefix: i.filenamePrefix, imageCount: BigInt(i.count), startedAt: msToNanos(i.startedAtMs), endedAt: msToNanos(i.endedAtMs) }),
    );

    const fillResults = (info: EgressInfo) => {
      if (fileInfo) info.fileResults = [fileInfo];
      if (segmentsInfo) info.segmentResults = [segmentsInfo];
      if (imagesInfo.length) info.imageResults = imagesInfo;
      // The deprecated single result, when the request had exactly one output kind.
      const kinds = [fileInfo, segmentsInfo, info.streamResults.length ? 'stream' : undefined].filter(Boolean).length;
      if (kinds === 1 && fileInfo) info.result = { case: 'file', value: fileInfo };
      if (kinds === 1 && segmentsInfo) info.result = { case: 'segments', value: segmentsInfo };
    };
    if (failures.length > 0) {
      const recordingError = job.data.status === 'failed' && job.data.error ? `${job.data.error.message}; ` : '';
      await ctx.events.end(egressId, { status: EgressStatus.EGRESS_FAILED, error: `${recordingError}upload failed: ${failures.join('; ')}`, errorCode: ERRORS.EGR_ERR_UPLOAD_FAILED.egressCode, reason: 'Failure' }, fillResults);
      return;
    }
    // Everything is delivered: the recorder's working directory can go (with a failure it stays, files and all).
    await rm(join(ctx.config.tmp_dir, egressId), { recursive: true, force: true });
    const files: ManifestFile[] = fileInfo ? [{ filename: fileInfo.filename, location: fileInfo.location }] : [];
    const manifestLocation = job.data.manifest && (await deliverManifest(ctx, delivery, job, { files, playlists, images: manifestImages }));
    const { error } = job.data;
    const end: EgressEnd =
      job.data.status === 'failed'
        ? { status: EgressStatus.EGRESS_FAILED, reason: job.data.details, error: error?.message ?? 'recording failed', errorCode: error?.code ?? ERRORS.EGR_ERR_INTERNAL.egressCode }
        : job.data.status === 'limit_reached'
          ? { status: EgressStatus.EGRESS_LIMIT_REACHED, reason: job.data.details, error: 'Session limit reached' }
          : { status: EgressStatus.EGRESS_COMPLETE, reason: job.data.details };
    await ctx.events.end(egressId, end, (info) => {
      fillResults(info);
      if (manifestLocation) info.manifestLocation = manifestLocation;
    });
  };
}

/** The manifest goes last: it lists where everything else landed. */
async function deliverManifest(ctx: ServiceContext, delivery: Delivery, job: Job<FinalizeJobData>, outputs: Parameters<typeof buildManifest>[2]): Promise<string> {
  const { manifest, plan, egressId } = job.data;
  const info = await ctx.events.store.get(egressId);
  const body = buildManifest(plan, { startedAtNs: info?.startedAt ?? 0n, endedAtNs: nowNanos(), roomId: info?.roomId, learnt: job.data.learnt }, outputs);
  const text = `${JSON.stringify(body, null, 2)}\n`;
  const delivered = await delivery.deliver({ egressId, storage: manifest!.storage, key: manifest!.key, payload: { text }, contentType: 'application/json', lastAttempt: isLastAttempt(job) });
  return delivered.location;
}
