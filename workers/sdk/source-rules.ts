/**
 * What an SDK recording records of a room, per source kind (LiveKit egress `pkg/pipeline/source/sdk.go`):
 * - participant: one participant's camera and microphone (or screen share and its audio); it starts once
 *   the participant is in the room and ends when the participant leaves; tracks come and go in between;
 * - track composite: one audio and/or one video track by id; it starts once they are all published and
 *   ends when they are all gone;
 * - room composite, audio only (no Chrome): every participant's audio, mixed as `audio_mixing` says; it
 *   ends when the room closes.
 */
import { ParticipantKind, TrackKind, TrackSource, type RemoteParticipant, type RemoteTrackPublication, type Room } from '@livekit/rtc-node';
import type { EgressPlan } from '../../shared/egress-plan.ts';
import { EgressError } from '../../shared/errors.ts';
import type { AudioChannel } from './audio-mixer.ts';

export type TrackRole = { kind: 'video' } | { kind: 'audio'; channel: AudioChannel };

export interface SourceRules {
  /** The source is in the room: the recording can start. */
  present(room: Room): boolean;
  /** Why it is not, for the not-found error (e.g. `participant alice not found`). */
  missing(room: Room): string;
  /** What a publication is to the recording; undefined: not recorded. Asked again for the same publication, the same answer. */
  roleOf(publication: RemoteTrackPublication, participant: RemoteParticipant): TrackRole | undefined;
  /** What ends the recording besides the room closing. */
  endsWhen: 'participant_left' | 'tracks_gone' | 'room_closed';
  /** The participant whose leaving ends it (participant_left). */
  identity?: string;
}

export function sourceRulesOf(plan: EgressPlan): SourceRules {
  const { source } = plan;
  switch (source.kind) {
    case 'participant': {
      const { identity, screenShare } = source;
      const screen = (publication: RemoteTrackPublication) =>
        publication.source === TrackSource.SOURCE_SCREENSHARE || publication.source === TrackSource.SOURCE_SCREENSHARE_AUDIO;
      return {
        present: (room) => room.remoteParticipants.has(identity),
        missing: () => `participant ${identity} not found`,
        roleOf: (publication, participant) => {
          if (participant.identity !== identity || screen(publication) !== screenShare) return undefined;
          return roleByKind(publication, 'both');
        },
        endsWhen: 'participant_left',
        identity,
      };
    }
    case 'track_composite': {
      const wanted = [source.audioTrackId, source.videoTrackId].filter((sid) => sid !== '');
      const published = (room: Room) => new Set([...room.remoteParticipants.values()].flatMap((p) => [...p.trackPublications.keys()]));
      return {
        present: (room) => wanted.every((sid) => published(room).has(sid)),
        missing: (room) => `track ${wanted.filter((sid) => !published(room).has(sid)).join(', ')} not found`,
        roleOf: (publication) => {
          if (publication.sid === source.audioTrackId && publication.kind === TrackKind.KIND_AUDIO) return { kind: 'audio', channel: 'both' };
          if (publication.sid === source.videoTrackId && publication.kind === TrackKind.KIND_VIDEO) return { kind: 'video' };
          return undefined;
        },
        endsWhen: 'tracks_gone',
      };
    }
    case 'template': {
      const channels = new Map<string, AudioChannel>();
      const channelOf = (publication: RemoteTrackPublication, participant: RemoteParticipant): AudioChannel => {
        switch (source.audioMixing) {
          case 'dual_channel_agent':
            return participant.kind === ParticipantKind.AGENT ? 'left' : 'right';
          case 'dual_channel_alternate': {
            // Each new track on the other side, the first on the left.
            const sid = publication.sid ?? '';
            let channel = channels.get(sid);
            if (!channel) channels.set(sid, (channel = channels.size % 2 === 0 ? 'left' : 'right'));
            return channel;
          }
          default:
            return 'both';
        }
      };
      return {
        present: () => true,
        missing: () => '',
        roleOf: (publication, participant) =>
          publication.kind === TrackKind.KIND_AUDIO ? { kind: 'audio', channel: channelOf(publication, participant) } : undefined,
        endsWhen: 'room_closed',
      };
    }
    default:
      throw new EgressError('EGR_ERR_INTERNAL', `the SDK recorder does not record ${source.kind} sources`);
  }
}

function roleByKind(publication: RemoteTrackPublication, channel: AudioChannel): TrackRole | undefined {
  if (publication.kind === TrackKind.KIND_VIDEO) return { kind: 'video' };
  if (publication.kind === TrackKind.KIND_AUDIO) return { kind: 'audio', channel };
  return undefined;
}
