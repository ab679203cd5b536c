/** TrackCompositeEgressRequest: one audio and/or one video track, synced and transcoded. */
import type { TrackCompositeEgressRequest } from '@livekit/protocol';
import { invalidField } from '../../shared/errors.ts';
import { requireField, type SourceParts, type ValidateContext } from './common.ts';
import { encodedPlan } from './encoded.ts';
import type { Validated } from './validated.ts';
import { collectV1Outputs } from './outputs/gather.ts';

/** Shared with v2 media sources made of track ids. */
export function trackCompositeSource(audioTrackId: string, videoTrackId: string): SourceParts {
  if (!audioTrackId && !videoTrackId) throw invalidField('audio_track_id or video_track_id');
  return { source: { kind: 'track_composite', audioTrackId, videoTrackId }, audio: audioTrackId !== '', video: videoTrackId !== '' };
}

export function validateTrackComposite(request: TrackCompositeEgressRequest, ctx: ValidateContext): Validated {
  const roomName = requireField(request.roomName, 'room_name');
  return encodedPlan(
    {
      requestKind: 'track_composite',
      roomName,
      ...trackCompositeSource(request.audioTrackId, request.videoTrackId),
      options: request.options,
      outputs: collectV1Outputs(request),
      allowWebsocket: false,
    },
    ctx,
  );
}
