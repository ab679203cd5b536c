/**
 * HLS playlists as LiveKit writes them (egress `sink/m3u8/writer.go`): an EVENT playlist of every segment
 * with `#EXT-X-PROGRAM-DATE-TIME`, closed by `#EXT-X-ENDLIST`, and an optional live playlist: a sliding
 * window of the last 5 segments whose `#EXT-X-MEDIA-SEQUENCE` advances. A recording taken over by another
 * worker goes on in the same playlists: the first segment of each later part is preceded by
 * `#EXT-X-DISCONTINUITY` (its timestamps start over), and the live playlist counts the discontinuities
 * that slid out of its window in `#EXT-X-DISCONTINUITY-SEQUENCE`, as RFC 8216 §6.2.2 asks.
 */

export interface PlaylistSegment {
  /** Name relative to the playlist (same directory). */
  filename: string;
  /** Seconds. */
  duration: number;
  /** Wall-clock start, unix ms. */
  startedAtMs: number;
  /** The first segment of a part after a takeover. */
  discontinuity?: boolean;
}

export const LIVE_WINDOW = 5;

function header(targetDuration: number, mediaSequence: number, event: boolean, discontinuitySequence = 0): string[] {
  return [
    '#EXTM3U',
    '#EXT-X-VERSION:4',
    ...(event ? ['#EXT-X-PLAYLIST-TYPE:EVENT'] : []),
    '#EXT-X-ALLOW-CACHE:NO',
    `#EXT-X-TARGETDURATION:${targetDuration}`,
    `#EXT-X-MEDIA-SEQUENCE:${mediaSequence}`,
    // Written once a discontinuity has left the window (0, its default, is left out as LiveKit leaves it).
    ...(discontinuitySequence > 0 ? [`#EXT-X-DISCONTINUITY-SEQUENCE:${discontinuitySequence}`] : []),
  ];
}

/** A playlist's segments; the tag of a discontinuity on a playlist's first segment is kept (its sequence counts it). */
function entries(segments: readonly PlaylistSegment[]): string[] {
  return segments.flatMap((s) => [
    ...(s.discontinuity ? ['#EXT-X-DISCONTINUITY'] : []),
    `#EXT-X-PROGRAM-DATE-TIME:${new Date(s.startedAtMs).toISOString()}`,
    `#EXTINF:${s.duration.toFixed(3)},`,
    s.filename,
  ]);
}

/** Target duration: the segment duration asked for, or the longest segment if one ran over (keyframe late). */
function targetDuration(segmentDurationSec: number, segments: readonly PlaylistSegment[]): number {
  return Math.max(segmentDurationSec, ...segments.map((s) => Math.round(s.duration)));
}

export function eventPlaylist(segmentDurationSec: number, segments: readonly PlaylistSegment[], ended: boolean): string {
  const lines = [...header(targetDuration(segmentDurationSec, segments), 0, true), ...entries(segments), ...(ended ? ['#EXT-X-ENDLIST'] : [])];
  return `${lines.join('\n')}\n`;
}

export function livePlaylist(segmentDurationSec: number, segments: readonly PlaylistSegment[], ended: boolean): string {
  const first = Math.max(0, segments.length - LIVE_WINDOW);
  const window = segments.slice(first);
  const slidOut = segments.slice(0, first).filter((s) => s.discontinuity).length;
  const lines = [
    ...header(targetDuration(segmentDurationSec, window), first, false, slidOut),
    ...entries(window),
    ...(ended ? ['#EXT-X-ENDLIST'] : []),
  ];
  return `${lines.join('\n')}\n`;
}
