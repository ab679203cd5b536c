/**
 * `<egress_id>.json`, the manifest LiveKit uploads beside the outputs (egress `pkg/config/manifest.go`),
 * with its keys, so tools that read LiveKit manifests read ours. A recording taken over by another worker
 * (shared/takeover/) adds its parts and the gaps between them, keys LiveKit's readers ignore.
 */
import type { EgressPlan } from '../../shared/egress-plan.ts';
import type { NamingVars } from '../../shared/naming.ts';
import type { PartGap } from '../../shared/takeover/part-gaps.ts';
import type { RecordedPart } from '../../shared/takeover/part-log.ts';

export interface ManifestFile {
  filename: string;
  location: string;
}

export interface ManifestImage extends ManifestFile {
  /** RFC 3339 time the image was captured. */
  timestamp: string;
}

export interface ManifestPlaylist {
  location: string;
  segments: ManifestFile[];
}

/** One part of a recording taken over: unix ns of its first frame and of its end, as started_at and ended_at are. */
export interface ManifestPart {
  part: number;
  started_at: number;
  ended_at: number;
}

/** Time not recorded between two parts (the worker was lost, another took over): unix ns, and its length. */
export interface ManifestGap {
  after_part: number;
  from: number;
  to: number;
  seconds: number;
}

export interface Manifest {
  egress_id: string;
  room_id: string;
  room_name: string;
  url: string;
  started_at: number;
  ended_at: number;
  publisher_identity: string;
  track_id: string;
  track_kind: string;
  track_source: string;
  audio_track_id: string;
  video_track_id: string;
  files: ManifestFile[];
  playlists: ManifestPlaylist[];
  images: ManifestImage[];
  /** Only for a recording of more than one part. */
  parts?: ManifestPart[];
  gaps?: ManifestGap[];
}

/** A recording's parts and gaps as the manifest lists them; nothing for a recording of one part. */
export function manifestTakeover(
  parts: readonly RecordedPart[],
  gaps: readonly PartGap[],
  endMs: (part: RecordedPart) => number,
): Pick<Manifest, 'parts' | 'gaps'> {
  if (parts.length < 2) return {};
  const ns = (ms: number) => ms * 1_000_000;
  return {
    parts: parts.map((p) => ({ part: p.part, started_at: ns(p.startedAtMs), ended_at: ns(endMs(p)) })),
    gaps: gaps.map((g) => ({ after_part: g.afterPart, from: ns(g.fromMs), to: ns(g.toMs), seconds: g.seconds })),
  };
}

/**
 * `known.roomId`: the room's sid (EgressInfo room_id); `known.learnt`: what the recorder learnt in the room (a
 * track egress: the publisher, the track's kind and source, as in `{track_type}` and `{track_source}`);
 * `known.takeover`: the parts and gaps of a recording taken over (manifestTakeover), nothing otherwise.
 */
export function buildManifest(
  plan: EgressPlan,
  known: { startedAtNs: bigint; endedAtNs: bigint; roomId?: string; learnt?: Partial<NamingVars>; takeover?: Pick<Manifest, 'parts' | 'gaps'> },
  outputs: { files?: ManifestFile[]; playlists?: ManifestPlaylist[]; images?: ManifestImage[] },
): Manifest {
  const { source } = plan;
  const learnt = known.learnt ?? {};
  return {
    egress_id: plan.egressId,
    room_id: known.roomId || learnt.roomId || '',
    room_name: plan.roomName,
    url: source.kind === 'web' ? source.url : '',
    // LiveKit writes unix nanoseconds as JSON numbers.
    started_at: Number(known.startedAtNs),
    ended_at: Number(known.endedAtNs),
    publisher_identity: source.kind === 'participant' ? source.identity : (learnt.publisherIdentity ?? ''),
    track_id: source.kind === 'track' ? source.trackId : '',
    track_kind: learnt.trackType ?? '',
    track_source: learnt.trackSource ?? '',
    audio_track_id: source.kind === 'track_composite' ? source.audioTrackId : '',
    video_track_id: source.kind === 'track_composite' ? source.videoTrackId : '',
    files: outputs.files ?? [],
    playlists: outputs.playlists ?? [],
    images: outputs.images ?? [],
    ...known.takeover,
  };
}
