/**
 * The results a finalize job fills into EgressInfo, each from what the recorder reported and where its
 * uploads landed, and how the egress ends: pure functions, so each can be checked without Redis or storage.
 */
import { EgressStatus, FileInfo, ImagesInfo, SegmentsInfo, type EgressInfo } from '@livekit/protocol';
import type { EgressEnd } from '../../shared/egress-events.ts';
import { ERRORS } from '../../shared/errors.ts';
import { msToNanos } from '../../shared/ids.ts';
import type { FinalizeJobData, ImagesSummary, SegmentsSummary, UploadJobData, UploadResult } from '../../shared/queues.ts';
import type { LoggedSegment } from '../../shared/segment-log.ts';
import type { ManifestImage, ManifestPlaylist } from '../outputs/manifest.ts';

/** A finished upload made while recording: its job's data and what it returned. */
export interface DeliveredUpload {
  data: UploadJobData;
  result: UploadResult;
}

/** The file result; not delivered, its location is where the recorder left it (that is where to find it). */
export function fileResult(file: FinalizeJobData['file'], fileUpload: UploadResult | undefined): FileInfo | undefined {
  if (!file) return undefined;
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
  uploads: DeliveredUpload[],
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
export function imagesResult(images: ImagesSummary[], uploads: DeliveredUpload[]): { infos: ImagesInfo[]; manifest: ManifestImage[] } {
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

/** Fills the results into EgressInfo, and the deprecated single result when the request had exactly one output kind. */
export function resultsFiller(file: FileInfo | undefined, segments: SegmentsInfo | undefined, images: ImagesInfo[]): (info: EgressInfo) => void {
  return (info) => {
    if (file) info.fileResults = [file];
    if (segments) info.segmentResults = [segments];
    if (images.length) info.imageResults = images;
    const kinds = [file, segments, info.streamResults.length ? 'stream' : undefined].filter(Boolean).length;
    if (kinds === 1 && file) info.result = { case: 'file', value: file };
    if (kinds === 1 && segments) info.result = { case: 'segments', value: segments };
  };
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
