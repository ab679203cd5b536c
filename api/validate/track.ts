/**
 * TrackEgressRequest: one track remuxed, not transcoded, to a file, or (audio) as raw PCM to a WebSocket.
 * No encoding options: the container follows the track's codec, known only once subscribed.
 */
import type { TrackEgressRequest } from '@livekit/protocol';
import { pathPolicyOf, type FileOutputPlan, type RequestKind, type StreamOutputPlan } from '../../shared/egress-plan.ts';
import { DEFAULT_ENCODING, fileTypeOfPath } from '../../shared/encoding.ts';
import { invalidField } from '../../shared/errors.ts';
import { namingVarsOf, resolveOutputPath } from '../../shared/naming.ts';
import { requireField, type ValidateContext } from './common.ts';
import { storageTarget, type UploadChoice } from './outputs/upload-storage.ts';
import { TRACK_EXTENSION_LENGTH, checkStorageKey } from './storage-keys.ts';
import { resolveStreamUrl } from './stream-url.ts';
import { validated, type Validated } from './validated.ts';

/** Containers a remux can produce; another extension in the path (say .mp3) leaves the choice to the codec. */
const REMUX_TYPES: ReadonlySet<string> = new Set(['ogg', 'mp4', 'webm']);

export interface RemuxRequest {
  requestKind: RequestKind;
  roomName: string;
  trackId: string;
  audio: boolean;
  video: boolean;
  /** A file with its upload config (none: the service's storage), or a WebSocket URL. */
  output: { file: { filepath: string; disableManifest: boolean }; upload: UploadChoice } | { websocketUrl: string };
}

/** Shared with v2 passthrough. */
export function remuxPlan(request: RemuxRequest, ctx: ValidateContext): Validated {
  const { requestKind, roomName, trackId, output } = request;
  const base = {
    egressId: ctx.egressId,
    requestKind,
    roomName,
    source: { kind: 'track', trackId } as const,
    audio: request.audio,
    video: request.video,
    encoding: { ...DEFAULT_ENCODING },
    images: [],
    requestedAt: ctx.now,
  };
  if ('websocketUrl' in output) {
    const target = resolveStreamUrl(output.websocketUrl, 'websocket');
    const stream: StreamOutputPlan = { protocol: 'websocket', redactedUrls: [target.redacted] };
    return validated({ ...base, video: false, encoding: { ...base.encoding, audioCodec: 'pcm', audioFrequency: 48000 }, stream }, [target], []);
  }
  const { file, upload } = output;
  const storage = storageTarget(upload);
  // The extension is not known yet: only the directory part and escapes can be checked now, and the
  // length with room for the longest extension.
  const key = resolveOutputPath(file.filepath, namingVarsOf({ ...base }), '', pathPolicyOf(storage));
  checkStorageKey(key, TRACK_EXTENSION_LENGTH, storage, 'filepath');
  const hinted = fileTypeOfPath(file.filepath);
  const fileType: FileOutputPlan['fileType'] = hinted && REMUX_TYPES.has(hinted) ? hinted : 'auto';
  return validated({ ...base, file: { fileType, filepath: file.filepath, disableManifest: file.disableManifest, storage: storage } }, [], [upload]);
}

export function validateTrack(request: TrackEgressRequest, ctx: ValidateContext): Validated {
  const roomName = requireField(request.roomName, 'room_name');
  const trackId = requireField(request.trackId, 'track_id');
  const common = { requestKind: 'track' as const, roomName, trackId };
  switch (request.output.case) {
    case 'file': {
      const file = request.output.value;
      // A file takes whatever the track is; its kind is learnt on subscribing.
      return remuxPlan({ ...common, audio: true, video: true, output: { file, upload: file.output } }, ctx);
    }
    case 'websocketUrl':
      return remuxPlan({ ...common, audio: true, video: false, output: { websocketUrl: request.output.value } }, ctx);
    default:
      throw invalidField('output');
  }
}
