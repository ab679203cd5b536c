/**
 * `<egress_id>.json`, the manifest LiveKit uploads beside the outputs (egress `pkg/config/manifest.go`),
 * with its keys, so tools that read LiveKit manifests read ours.
 */
import type { EgressPlan } from '../shared/egress-plan.ts';

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

export function buildManifest(
  plan: EgressPlan,
  times: { startedAtNs: bigint; endedAtNs: bigint; roomId?: string },
  outputs: { files?: ManifestFile[]; playlists?: ManifestPlaylist[]; images?: ManifestImage[] },
): Manifest {
  const { source } = plan;
  return {
    egress_id: plan.egressId,
    room_id: times.roomId ?? '',
    room_name: plan.roomName,
    url: source.kind === 'web' ? source.url : '',
    // LiveKit writes unix nanoseconds as JSON numbers.
    started_at: Number(times.startedAtNs),
    ended_at: Number(times.endedAtNs),
    publisher_identity: source.kind === 'participant' ? source.identity : '',
    track_id: source.kind === 'track' ? source.trackId : '',
    track_kind: '',
    track_source: '',
    audio_track_id: source.kind === 'track_composite' ? source.audioTrackId : '',
    video_track_id: source.kind === 'track_composite' ? source.videoTrackId : '',
    files: outputs.files ?? [],
    playlists: outputs.playlists ?? [],
    images: outputs.images ?? [],
  };
}
