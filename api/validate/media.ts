/**
 * v2 MediaSource, mapped onto the sources our SDK workers know: a participant (participant_video, with
 * that participant's audio) or tracks by id (track composite). Audio routing LiveKit added with v2 —
 * capture_all, several routes, participant kinds, left/right channels — has no worker yet and is refused
 * as not supported rather than recorded differently. PASSTHROUGH (remux one track) is LiveKit's
 * `validatePassthrough`, field names included.
 */
import { AudioChannel, EncodedFileType, type AudioRoute, type MediaSource, type StartEgressRequest } from '@livekit/protocol';
import { EgressError, invalidField } from '../../shared/errors.ts';
import { requireField, type SourceParts, type ValidateContext } from './common.ts';
import { v2Upload } from './outputs/upload-storage.ts';
import { remuxPlan } from './track.ts';
import { trackCompositeSource } from './track-composite.ts';
import type { Validated } from './validated.ts';

const notSupported = (what: string): EgressError => new EgressError('EGR_ERR_NOT_SUPPORTED', `media source: ${what} is not supported yet`);

/** The one audio route we can record: a whole track or participant, to both channels. */
function singleRoute(media: MediaSource): AudioRoute | undefined {
  const audio = media.audio;
  if (!audio) return undefined;
  if (audio.captureAll) throw notSupported('audio capture_all');
  if (audio.routes.length > 1) throw notSupported('more than one audio route');
  const route = audio.routes[0];
  if (!route) return undefined;
  if (route.match.case === undefined) throw invalidField('audio route match');
  if (route.match.case === 'participantKind') throw notSupported('an audio route by participant_kind');
  if (route.channel !== AudioChannel.BOTH) throw notSupported('an audio route to one channel');
  return route;
}

export function mediaSource(media: MediaSource): SourceParts {
  const hasAudio = media.audio !== undefined && (media.audio.captureAll || media.audio.routes.length > 0);
  if (!hasAudio && media.video.case === undefined) throw invalidField('audio or video');
  const route = singleRoute(media);

  if (media.video.case === 'participantVideo') {
    const { identity, preferScreenShare } = media.video.value;
    requireField(identity, 'participant_video.identity');
    if (route && !(route.match.case === 'participantIdentity' && route.match.value === identity)) {
      throw notSupported('audio from someone other than the participant_video participant');
    }
    return { source: { kind: 'participant', identity, screenShare: preferScreenShare }, audio: route !== undefined, video: true };
  }

  const videoTrackId = media.video.case === 'videoTrackId' ? requireField(media.video.value, 'video_track_id') : '';
  if (route?.match.case === 'participantIdentity') {
    if (videoTrackId) throw notSupported('a video track with a participant audio route');
    const identity = requireField(route.match.value, 'participant_identity');
    return { source: { kind: 'participant', identity, screenShare: false }, audio: true, video: false };
  }
  const audioTrackId = route?.match.case === 'trackId' ? requireField(route.match.value, 'track_id') : '';
  return trackCompositeSource(audioTrackId, videoTrackId);
}

/** The one track a passthrough remuxes, or LiveKit's `passthrough …` field. */
function passthroughTrack(media: MediaSource): { trackId: string; video: boolean } {
  let videoTrackId = '';
  if (media.video.case === 'participantVideo') throw invalidField('passthrough participant_video');
  if (media.video.case === 'videoTrackId') {
    if (!media.video.value) throw invalidField('passthrough video_track_id');
    videoTrackId = media.video.value;
  }
  let audioTrackId = '';
  const audio = media.audio;
  if (audio?.captureAll) throw invalidField('passthrough capture_all');
  if (audio && audio.routes.length > 1) throw invalidField('passthrough audio routes');
  const route = audio?.routes[0];
  if (route) {
    if (route.match.case !== 'trackId') throw invalidField('passthrough audio route match');
    if (!route.match.value) throw invalidField('passthrough audio route track_id');
    audioTrackId = route.match.value;
  }
  if ((videoTrackId === '') === (audioTrackId === '')) throw invalidField('passthrough track_id');
  return videoTrackId ? { trackId: videoTrackId, video: true } : { trackId: audioTrackId, video: false };
}

/** PASSTHROUGH preset: one track by id to exactly one DEFAULT_FILETYPE file, remuxed like track egress. */
export function validatePassthrough(request: StartEgressRequest, ctx: ValidateContext): Validated {
  if (request.source.case !== 'media') throw invalidField('passthrough source');
  const { trackId, video } = passthroughTrack(request.source.value);
  if (request.outputs.length !== 1) throw invalidField('passthrough outputs');
  const { config, storage } = request.outputs[0]!;
  if (config.case !== 'file') throw invalidField('passthrough output');
  if (config.value.fileType !== EncodedFileType.DEFAULT_FILETYPE) throw invalidField('passthrough file_type');
  const roomName = requireField(request.roomName, 'room_name');
  return remuxPlan(
    {
      requestKind: 'egress',
      roomName,
      trackId,
      audio: !video,
      video,
      output: { file: config.value, upload: v2Upload(storage, request.storage) },
    },
    ctx,
  );
}
