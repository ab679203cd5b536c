/**
 * The results a finalize job fills into EgressInfo, each from what the recorder reported and where its
 * uploads landed, and how the egress ends: pure functions, so each can be checked without Redis or storage.
 */
import { EgressStatus, FileInfo, ImagesInfo, SegmentsInfo, type EgressInfo } from '@livekit/protocol';
import type { EgressEnd } from '../../shared/egress-events.ts';
import { ERRORS } from '../../shared/errors.ts';
import { msToNanos } from '../../shared/ids.ts';
import type { FinalizeJobData, UploadJobData, UploadResult } from '../../shared/queues.ts';
import type { LoggedSegment } from '../../shared/segment-log.ts';
import type { FileSummary } from '../outputs/file-output.ts';
import type { ImagesSummary } from '../outputs/images-output.ts';
import type { ManifestImage, ManifestPlaylist } from '../outputs/manifest.ts';
import type { FinalizedOutput, ManifestOutputs } from '../outputs/output-plugin.ts';
import type { SegmentsSummary } from '../outputs/segments-output.ts';

/** A finished upload made while recording: its job's data and what it returned. */
export interface DeliveredUpload {
  data: UploadJobData;
  result: UploadResult;
}

/** The file result; not delivered, its location is where the recorder left it (that is where to find it). */
export function fileResult(file: FileSummary, fileUpload: UploadResult | undefined): FileInfo {
  return new FileInfo({
    filename: file.filename,
    startedAt: msToNanos(file.startedAtMs),
    endedAt: msToNanos(file.endedAtMs),
    duration: file.durationSec !== undefined ? msToNanos(file.durationSec * 1000) : msToNanos(file.endedAtMs - file.startedAtMs),
    size: BigInt(fileUpload?.sizeBytes ?? file.sizeBytes),
    location: fileUpload?.location ?? file.localPath,
  });
}

/** The segments result and the manifest's playlist, from the segment log and the playlists just written. */
export function segmentsResult(
  segments: SegmentsSummary,
  written: { main?: string; live?: string },
  logged: LoggedSegment[],
  uploads: readonly DeliveredUpload[],
): { info: SegmentsInfo; playlist: ManifestPlaylist } {
  const locations = new Map(uploads.filter((u) => u.data.output === 'segment').map((u) => [u.data.key, u.result.location]));
  const info = new SegmentsInfo({
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
  const playlist = { location: written.main ?? '', segments: logged.map((s) => ({ filename: s.filename, location: locations.get(s.key) ?? '' })) };
  return { info, playlist };
}

/** The image results (one per image output) and the manifest's images (one per image delivered). */
export function imagesResult(images: ImagesSummary[], uploads: readonly DeliveredUpload[]): { infos: ImagesInfo[]; manifest: ManifestImage[] } {
  const manifest = uploads
    .filter((u) => u.data.output === 'image')
    .map((u) => ({ filename: u.data.key, timestamp: new Date(u.data.capturedAtMs ?? 0).toISOString(), location: u.result.location }));
  const infos = images.map(
    (i) =>
      new ImagesInfo({
        filenamePrefix: i.filenamePrefix,
        imageCount: BigInt(i.count),
        startedAt: msToNanos(i.startedAtMs),
        endedAt: msToNanos(i.endedAtMs),
      }),
  );
  return { infos, manifest };
}

/**
 * Fills every kind's results into EgressInfo, and the deprecated single result when the request had exactly
 * one output kind that has one (file, segments; a stream counts as a kind, images do not).
 */
export function resultsFiller(parts: readonly FinalizedOutput[]): (info: EgressInfo) => void {
  return (info) => {
    for (const part of parts) part.fill(info);
    const singles = parts.flatMap((part) => (part.single ? [part.single] : []));
    const kinds = singles.length + (info.streamResults.length ? 1 : 0);
    if (kinds === 1 && singles[0]) info.result = singles[0];
  };
}

/** The manifest's lists: each kind's, in registry order. */
export function manifestOutputsOf(parts: readonly FinalizedOutput[]): Required<ManifestOutputs> {
  const lists: Required<ManifestOutputs> = { files: [], playlists: [], images: [] };
  for (const { manifest } of parts) {
    lists.files.push(...(manifest?.files ?? []));
    lists.playlists.push(...(manifest?.playlists ?? []));
    lists.images.push(...(manifest?.images ?? []));
  }
  return lists;
}

/** A failed upload: FAILED with every upload error (after the recording's own, if it failed too). */
export function uploadsFailedEnd(data: Pick<FinalizeJobData, 'status' | 'error'>, failures: string[]): EgressEnd {
  const recordingError = data.status === 'failed' && data.error ? `${data.error.message}; ` : '';
  return {
    status: EgressStatus.EGRESS_FAILED,
    error: `${recordingError}upload failed: ${failures.join('; ')}`,
    errorCode: ERRORS.EGR_ERR_UPLOAD_FAILED.egressCode,
    reason: 'Failure',
  };
}

/** Everything delivered: the status the recording ended with. */
export function deliveredEnd(data: Pick<FinalizeJobData, 'status' | 'error' | 'details'>): EgressEnd {
  const { error } = data;
  if (data.status === 'failed')
    return {
      status: EgressStatus.EGRESS_FAILED,
      reason: data.details,
      error: error?.message ?? 'recording failed',
      errorCode: error?.code ?? ERRORS.EGR_ERR_INTERNAL.egressCode,
    };
  if (data.status === 'limit_reached') return { status: EgressStatus.EGRESS_LIMIT_REACHED, reason: data.details, error: 'Session limit reached' };
  return { status: EgressStatus.EGRESS_COMPLETE, reason: data.details };
}
