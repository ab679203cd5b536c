/** A playlist update: rendered from the segment log when it runs, after its segment is in storage. */
import type { Job } from 'bullmq';
import type { ServiceContext } from '../../shared/context.ts';
import type { PlaylistJobData } from '../../shared/queues.ts';
import type { LoggedSegment } from '../../shared/segment-log.ts';
import { eventPlaylist, livePlaylist, type PlaylistSegment } from '../media/sinks/hls-playlist.ts';
import { deliver } from '../storage/index.ts';

export const asPlaylistSegments = (logged: LoggedSegment[]): PlaylistSegment[] =>
  logged.map((s) => ({ filename: s.filename, duration: s.durationSec, startedAtMs: s.startedAtMs }));

/** Writes the playlists of `data` with the first `upTo` segments; `ended` adds #EXT-X-ENDLIST. */
export async function writePlaylists(ctx: ServiceContext, data: PlaylistJobData, ended: boolean): Promise<{ main?: string; live?: string }> {
  const segments = asPlaylistSegments(await ctx.segments.list(data.egressId, data.upTo));
  const written: { main?: string; live?: string } = {};
  if (data.mainKey) {
    written.main = (await deliver(ctx.config, data.storage, { text: eventPlaylist(data.segmentDurationSec, segments, ended) }, data.mainKey)).location;
  }
  if (data.liveKey) {
    written.live = (await deliver(ctx.config, data.storage, { text: livePlaylist(data.segmentDurationSec, segments, ended) }, data.liveKey)).location;
  }
  return written;
}

export function playlistProcessor(ctx: ServiceContext) {
  return (job: Job<PlaylistJobData>) => writePlaylists(ctx, job.data, false);
}
