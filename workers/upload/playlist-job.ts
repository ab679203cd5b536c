/** A playlist update: rendered from the segment log when it runs, after its segment is in storage. */
import type { Job } from 'bullmq';
import type { ServiceContext } from '../../shared/context.ts';
import type { PlaylistJobData } from '../../shared/queues.ts';
import type { LoggedSegment } from '../../shared/segment-log.ts';
import { eventPlaylist, livePlaylist, type PlaylistSegment } from '../outputs/hls-playlist.ts';
import { isLastAttempt } from './upload-options.ts';
import type { Delivery } from '../storage/delivery.ts';

export const asPlaylistSegments = (logged: LoggedSegment[]): PlaylistSegment[] =>
  logged.map((s) => ({
    filename: s.filename,
    duration: s.durationSec,
    startedAtMs: s.startedAtMs,
    ...(s.discontinuity ? { discontinuity: true } : {}),
  }));

const PLAYLIST_CONTENT_TYPE = 'application/x-mpegurl';

/**
 * Writes the playlists of `data` with the first `upTo` segments; `ended` adds #EXT-X-ENDLIST. `lastAttempt`:
 * the calling job's, so a storage that keeps failing hands over to the backup storage.
 */
export async function writePlaylists(
  ctx: ServiceContext,
  delivery: Delivery,
  data: PlaylistJobData,
  ended: boolean,
  lastAttempt: boolean,
): Promise<{ main?: string; live?: string }> {
  const segments = asPlaylistSegments(await ctx.segments.list(data.egressId, data.upTo));
  const write = async (key: string, text: string) =>
    (
      await delivery.deliver({
        egressId: data.egressId,
        storage: data.storage,
        key,
        payload: { text },
        contentType: PLAYLIST_CONTENT_TYPE,
        lastAttempt,
      })
    ).location;
  const written: { main?: string; live?: string } = {};
  if (data.mainKey) written.main = await write(data.mainKey, eventPlaylist(data.segmentDurationSec, segments, ended));
  if (data.liveKey) written.live = await write(data.liveKey, livePlaylist(data.segmentDurationSec, segments, ended));
  return written;
}

export function playlistProcessor(ctx: ServiceContext, delivery: Delivery) {
  return (job: Job<PlaylistJobData>) => writePlaylists(ctx, delivery, job.data, false, isLastAttempt(job));
}
