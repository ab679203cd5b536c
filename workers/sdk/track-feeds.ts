/**
 * Follows the recorded tracks of a room and feeds them to the frame pacer and the audio mixer: subscribes
 * to each publication the source rules want (those there now and those published later), decodes it
 * through rtc-node (I420 frames, 48 kHz stereo PCM), and follows mute (black / silence), unpublish
 * (black / silence until a republish) and the end of the source (participant left, tracks gone, room
 * closed), told apart from a lost connection to the room (which rtc-node has given up reconnecting on).
 * A momentary loss does not end the recording: while rtc-node reconnects, the participants and tracks it
 * drops are not taken for gone; once reconnected, the source has RECONNECT_GRACE_MS to be back (black and
 * silence meanwhile). One video track at a time: the latest subscribed. What it follows, and each track's
 * first media, it tells the start gate (the recording starts there).
 */
import {
  RoomEvent,
  type DisconnectReason,
  type RemoteParticipant,
  type RemoteTrack,
  type RemoteTrackPublication,
  type Room,
  type TrackPublication,
  type Participant,
} from '@livekit/rtc-node';
import type { Logger } from 'pino';
import type { AudioMixer, MixerInput } from './audio-mixer.ts';
import { pumpAudio, pumpVideo } from './feed-streams.ts';
import type { FramePacer } from './frame-pacer.ts';
import { disconnectedEnd, endAfterGrace, endAfterParticipantLeft, endAfterTrackGone, sourceBack, type SourceEnd } from './source-end.ts';
import type { SourceRules, TrackRole } from './source-rules.ts';
import type { StartGate } from './start-gate.ts';

export type { SourceEnd } from './source-end.ts';

/** After a reconnection, how long the source has to be back before it is taken for gone. */
export const RECONNECT_GRACE_MS = 10_000;

export interface TrackFeeds {
  /** Resolves when the recording is over, with why. */
  readonly sourceClosed: Promise<SourceEnd>;
  /** Stops following: every stream is cancelled and no event is handled any more. */
  stop(): void;
}

export interface FeedSinks {
  pacer?: FramePacer;
  mixer?: AudioMixer;
  gate: StartGate;
}

interface Feed {
  sid: string;
  participant: string;
  role: TrackRole;
  muted: boolean;
  /** Its first frame or samples came. */
  delivered?: true;
  /** Cancels the decoded stream, once subscribed. */
  cancel?: () => void;
  mixerInput?: MixerInput;
}

export function feedTracks(room: Room, rules: SourceRules, sinks: FeedSinks, log: Logger): TrackFeeds {
  return new RoomFeeds(room, rules, sinks, log).start();
}

/** The feeds of one room: what each room event does to them, one method each. */
class RoomFeeds implements TrackFeeds {
  readonly sourceClosed: Promise<SourceEnd>;
  readonly #room: Room;
  readonly #rules: SourceRules;
  readonly #sinks: FeedSinks;
  readonly #log: Logger;
  readonly #feeds = new Map<string, Feed>();
  readonly #handlers: Record<string, (...args: never[]) => void>;
  #activeVideo: Feed | undefined;
  #everFed = false;
  #reconnecting = false;
  #graceTimer: NodeJS.Timeout | undefined;
  #endSource: (end: SourceEnd) => void = () => {};

  constructor(room: Room, rules: SourceRules, sinks: FeedSinks, log: Logger) {
    this.#room = room;
    this.#rules = rules;
    this.#sinks = sinks;
    this.#log = log;
    this.sourceClosed = new Promise<SourceEnd>((resolve) => (this.#endSource = resolve));
    this.#handlers = {
      [RoomEvent.TrackPublished]: (publication: RemoteTrackPublication, participant: RemoteParticipant) => this.#consider(publication, participant),
      [RoomEvent.TrackSubscribed]: (track: RemoteTrack, publication: RemoteTrackPublication) => this.#attach(track, publication),
      [RoomEvent.TrackUnsubscribed]: (_track: RemoteTrack, publication: RemoteTrackPublication) => this.#detach(publication.sid, 'unsubscribed'),
      [RoomEvent.TrackUnpublished]: (publication: RemoteTrackPublication) => this.#detach(publication.sid, 'unpublished'),
      [RoomEvent.TrackMuted]: (publication: TrackPublication, _participant: Participant) => this.#setMuted(publication, true),
      [RoomEvent.TrackUnmuted]: (publication: TrackPublication, _participant: Participant) => this.#setMuted(publication, false),
      [RoomEvent.ParticipantDisconnected]: (participant: RemoteParticipant) => this.#participantLeft(participant),
      [RoomEvent.Disconnected]: (reason: DisconnectReason) => this.#endSource(disconnectedEnd(reason)),
      [RoomEvent.Reconnecting]: () => this.#reconnectingNow(),
      [RoomEvent.Reconnected]: () => this.#reconnected(),
    };
  }

  start(): this {
    for (const [event, handler] of Object.entries(this.#handlers)) this.#room.on(event as RoomEvent, handler);
    this.#considerAll();
    return this;
  }

  stop(): void {
    clearTimeout(this.#graceTimer);
    for (const [event, handler] of Object.entries(this.#handlers)) this.#room.off(event as RoomEvent, handler);
    for (const feed of this.#feeds.values()) feed.cancel?.();
    this.#feeds.clear();
  }

  #end(end: SourceEnd | undefined): void {
    if (end) this.#endSource(end);
  }

  #considerAll(): void {
    for (const participant of this.#room.remoteParticipants.values()) {
      for (const publication of participant.trackPublications.values()) this.#consider(publication, participant);
    }
  }

  /** A publication the source rules want is followed (subscribed, or attached if it already is). */
  #consider(publication: RemoteTrackPublication, participant: RemoteParticipant): void {
    const { pacer, mixer, gate } = this.#sinks;
    const sid = publication.sid;
    if (!sid || this.#feeds.has(sid)) return;
    const role = this.#rules.roleOf(publication, participant);
    if (!role || (role.kind === 'video' && !pacer) || (role.kind === 'audio' && !mixer)) return;
    const muted = publication.muted ?? false;
    this.#feeds.set(sid, { sid, participant: participant.identity, role, muted });
    gate.follow(sid, muted);
    this.#everFed = true;
    this.#log.debug({ trackSid: sid, participant: participant.identity, role }, 'subscribing');
    if (publication.track) this.#attach(publication.track, publication);
    else publication.setSubscribed(true);
  }

  #delivered(feed: Feed): void {
    if (feed.delivered) return;
    feed.delivered = true;
    this.#sinks.gate.delivered(feed.sid);
    this.#log.info({ trackSid: feed.sid, kind: feed.role.kind }, 'first media of the track');
  }

  /** A subscribed track's media starts flowing: video becomes the one shown (the latest subscribed), audio gets a mixer input. */
  #attach(track: RemoteTrack, publication: RemoteTrackPublication): void {
    const feed = this.#feeds.get(publication.sid ?? '');
    if (!feed || feed.cancel) return;
    feed.muted = publication.muted ?? false;
    const delivered = () => this.#delivered(feed);
    if (feed.role.kind === 'video') {
      const pacer = this.#sinks.pacer!;
      this.#activeVideo = feed;
      pacer.blank();
      feed.cancel = pumpVideo(track, pacer, () => this.#activeVideo === feed && !feed.muted, delivered);
    } else {
      const input = this.#sinks.mixer!.add(feed.role.channel);
      input.setMuted(feed.muted);
      feed.mixerInput = input;
      feed.cancel = pumpAudio(track, input, () => feed.muted, delivered);
    }
    this.#log.info({ trackSid: feed.sid, participant: feed.participant, kind: feed.role.kind, muted: feed.muted }, 'recording track');
  }

  #detach(sid: string | undefined, why: string): void {
    const feed = this.#feeds.get(sid ?? '');
    if (!feed) return;
    this.#feeds.delete(feed.sid);
    this.#sinks.gate.gone(feed.sid);
    feed.cancel?.();
    feed.mixerInput?.remove();
    if (this.#activeVideo === feed) {
      this.#activeVideo = undefined;
      this.#sinks.pacer!.blank();
    }
    this.#log.info({ trackSid: feed.sid, participant: feed.participant, why }, 'track gone');
    this.#end(endAfterTrackGone(this.#rules, { everFed: this.#everFed, following: this.#feeds.size, reconnecting: this.#reconnecting }));
  }

  #setMuted(publication: TrackPublication, muted: boolean): void {
    const feed = this.#feeds.get(publication.sid ?? '');
    if (!feed) return;
    feed.muted = muted;
    this.#sinks.gate.muted(feed.sid, muted);
    if (feed.role.kind === 'video' && this.#activeVideo === feed && muted) this.#sinks.pacer!.blank();
    feed.mixerInput?.setMuted(muted);
    this.#log.info({ trackSid: feed.sid, muted }, muted ? 'track muted' : 'track unmuted');
  }

  #participantLeft(participant: RemoteParticipant): void {
    for (const feed of [...this.#feeds.values()]) if (feed.participant === participant.identity) this.#detach(feed.sid, 'participant left');
    this.#end(endAfterParticipantLeft(this.#rules, participant.identity, this.#reconnecting));
  }

  #reconnectingNow(): void {
    this.#reconnecting = true;
    this.#log.warn('connection to the room interrupted; reconnecting');
  }

  /** Reconnected: what was published meanwhile is followed; what is still missing has RECONNECT_GRACE_MS to be back. */
  #reconnected(): void {
    this.#reconnecting = false;
    this.#log.info('reconnected to the room');
    this.#considerAll();
    if (sourceBack(this.#rules, this.#room, this.#feeds.size)) return;
    clearTimeout(this.#graceTimer);
    this.#graceTimer = setTimeout(() => this.#end(endAfterGrace(this.#rules, this.#room, this.#feeds.size)), RECONNECT_GRACE_MS);
  }
}
