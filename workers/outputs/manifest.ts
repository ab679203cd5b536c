/**
 * `<egress_id>.json`, the manifest LiveKit uploads beside the outputs (egress `pkg/config/manifest.go`),
 * with its keys, so tools that read LiveKit manifests read ours.
 */
import type { EgressPlan } from '../../shared/egress-plan.ts';
import type { NamingVars } from '../../shared/naming.ts';

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
}

/**
 * `known.roomId`: the room's sid (EgressInfo room_id); `known.learnt`: what the recorder learnt in the room (a
 * track egress: the publisher, the track's kind and source, as in `{track_type}` and `{track_source}`).
 */
export function buildManifest(
  plan: EgressPlan,
  known: { startedAtNs: bigint; endedAtNs: bigint; roomId?: string; learnt?: Partial<NamingVars> },
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
  };
}
