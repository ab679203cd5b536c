/**
 * What the API hands a worker: a validated, resolved description of one egress, free of secrets
 * (it is job data, and Bull Board shows job data). Validation turns a request message into a plan;
 * workers read nothing else of the request.
 */
import type { PoolName } from './config/schema.ts';

export type RequestKind = 'room_composite' | 'web' | 'participant' | 'track_composite' | 'track' | 'egress';

export type RecordPoolName = Extract<PoolName, 'room-composite' | 'track-composite' | 'track'>;

/** Which pool records a plan: Chrome sources on room-composite workers, SDK sources by their weight. */
export function poolOf(plan: Pick<EgressPlan, 'source'>): RecordPoolName {
  switch (plan.source.kind) {
    case 'web':
    case 'template':
      return 'room-composite';
    case 'participant':
    case 'track_composite':
      return 'track-composite';
    case 'track':
      return 'track';
  }
}

export type VideoProfile = 'baseline' | 'main' | 'high';
/** `pcm`: raw S16LE 48 kHz stereo, only for a WebSocket stream output (v2 StartEgress). */
export type AudioCodecName = 'aac' | 'opus' | 'mp3' | 'pcm';
export type FileType = 'mp4' | 'ogg' | 'mp3' | 'webm';
/**
 * `auto` (track egress and v2 passthrough only): the container follows the track's codec, known once
 * subscribed (Opus/PCMU/PCMA → ogg, H.264 → mp4, VP8/VP9 → webm; `fileTypeOfTrackCodec` in shared/encoding.ts).
 */
export type PlannedFileType = FileType | 'auto';
export type AudioMixingName = 'default' | 'dual_channel_agent' | 'dual_channel_alternate';

export interface EncodingPlan {
  width: number;
  height: number;
  /** Xvfb screen depth: 8, 16 or 24. */
  depth: number;
  framerate: number;
  videoProfile: VideoProfile;
  videoBitrateKbps: number;
  audioCodec: AudioCodecName;
  audioBitrateKbps: number;
  /** Hz. AAC/MP3 use the requested (default 44100); Opus and PCM are always 48000. */
  audioFrequency: number;
  /** Seconds between keyframes; 0 = encoder default. */
  keyFrameIntervalSec: number;
}

/**
 * Where an output goes. `service`: no upload config in the request, so the worker's `storage` config
 * decides (its cloud storage, else local disk). The others are a request's own upload config: the job
 * names the bucket, and `ref` finds its credentials in the sealed secret store (shared/egress-secrets.ts)
 * at upload time. Nothing secret is here.
 */
export type StorageTarget =
  | { kind: 'service' }
  | { kind: 's3'; bucket: string; ref: string }
  | { kind: 'gcp'; bucket: string; ref: string }
  | { kind: 'azure'; container: string; ref: string };

/**
 * `confined` (local disk): a path that leaves the output directory — absolute, or `..` after
 * normalisation — is refused. `lenient` (cloud storage, a key under the bucket): LiveKit's clean-up,
 * leading `/` and `../` dropped.
 */
export type PathPolicy = 'confined' | 'lenient';

/**
 * How output paths are cleaned: the service's storage may be local disk, where a path must stay inside
 * its directory; a key in a request's own bucket is cleaned the way LiveKit does.
 */
export const pathPolicyOf = (storage: StorageTarget): PathPolicy => (storage.kind === 'service' ? 'confined' : 'lenient');

export interface FileOutputPlan {
  /**
   * Resolved container (DEFAULT_FILETYPE already chosen from the codecs). Track egress: the type a known
   * extension of `filepath` names (ogg, mp4, webm), else `auto`; the track's codec has the last word, as
   * in LiveKit, which replaces a wrong extension with the codec's.
   */
  fileType: PlannedFileType;
  /** The requested path, templates ({room_name}, {time}, …) not yet expanded; may be empty or end in `/`. */
  filepath: string;
  disableManifest: boolean;
  storage: StorageTarget;
}

export interface StreamOutputPlan {
  protocol: 'rtmp' | 'srt' | 'websocket';
  /** Redacted URLs (stream keys hidden); the real ones are kept out of job data. */
  redactedUrls: string[];
}

export interface SegmentsOutputPlan {
  filenamePrefix: string;
  playlistName: string;
  livePlaylistName: string;
  segmentDurationSec: number;
  filenameSuffix: 'index' | 'timestamp';
  disableManifest: boolean;
  storage: StorageTarget;
}

export interface ImageOutputPlan {
  captureIntervalSec: number;
  width: number;
  height: number;
  filenamePrefix: string;
  filenameSuffix: 'index' | 'timestamp' | 'none_overwrite';
  disableManifest: boolean;
  storage: StorageTarget;
}

export interface WebSourcePlan {
  kind: 'web';
  url: string;
  awaitStartSignal: boolean;
}

export interface TemplateSourcePlan {
  kind: 'template';
  layout: string;
  /** custom_base_url, or empty for the built-in templates. */
  baseUrl: string;
  /** Room composite audio_mixing; LiveKit applies it only on its no-Chrome, audio-only path. */
  audioMixing?: AudioMixingName;
}

export interface ParticipantSourcePlan {
  kind: 'participant';
  identity: string;
  screenShare: boolean;
}

export interface TrackCompositeSourcePlan {
  kind: 'track_composite';
  audioTrackId: string;
  videoTrackId: string;
}

export interface TrackSourcePlan {
  kind: 'track';
  trackId: string;
}

export type SourcePlan = WebSourcePlan | TemplateSourcePlan | ParticipantSourcePlan | TrackCompositeSourcePlan | TrackSourcePlan;

export interface EgressPlan {
  egressId: string;
  requestKind: RequestKind;
  roomName: string;
  source: SourcePlan;
  /**
   * Record audio / video at all (audio_only and video_only resolved; images-only → no audio; a WebSocket
   * output → no video). Track egress: both true for a file (the track's kind decides), audio only for WebSocket.
   */
  audio: boolean;
  video: boolean;
  encoding: EncodingPlan;
  file?: FileOutputPlan;
  stream?: StreamOutputPlan;
  segments?: SegmentsOutputPlan;
  images: ImageOutputPlan[];
  /** Unix ms when the request was accepted; {time} and {utc} expand from it. */
  requestedAt: number;
  /** Beyond LiveKit (livekit/egress#358): this egress ends LIMIT_REACHED after this many seconds; 0 = none. */
  maxDurationSec?: number;
}
