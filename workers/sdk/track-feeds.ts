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
  AudioStream,
  DisconnectReason,
  RoomEvent,
  VideoBufferType,
  VideoStream,
  type RemoteParticipant,
  type RemoteTrack,
  type RemoteTrackPublication,
  type Room,
  type TrackPublication,
  type Participant,
} from '@livekit/rtc-node';
import type { Logger } from 'pino';
import { RAW_AUDIO_CHANNELS, RAW_AUDIO_RATE } from '../capture/ffmpeg-args.ts';
import type { AudioMixer, MixerInput } from './audio-mixer.ts';
import type { FramePacer } from './frame-pacer.ts';
import type { SourceRules, TrackRole } from './source-rules.ts';
import type { StartGate } from './start-gate.ts';

/** Why the recording is over: its source is gone ("Source closed"), or the room connection was lost. */
export interface SourceEnd {
  why: string;
  /** The connection to the room was lost, not closed by the room: the egress fails, its recording delivered. */
  lost?: true;
}

/** After a reconnection, how long the source has to be back before it is taken for gone. */
export const RECONNECT_GRACE_MS = 10_000;

/** Disconnections that are the room ending, not the connection failing. */
const ROOM_ENDED: ReadonlySet<DisconnectReason> = new Set([DisconnectReason.ROOM_DELETED, DisconnectReason.ROOM_CLOSED]);

export interface TrackFeeds {
  /** Resolves when the recording is over, with why. */
  readonly sourceClosed: Promise<SourceEnd>;
  /** Stops following: every stream is cancelled and no event is handled any more. */
  stop(): void;
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

export function feedTracks(room: Room, rules: SourceRules, sinks: { pacer?: FramePacer; mixer?: AudioMixer; gate: StartGate }, log: Logger): TrackFeeds {
  const { pacer, mixer, gate } = sinks;
  const feeds = new Map<string, Feed>();
  let activeVideo: Feed | undefined;
  let everFed = false;
  let reconnecting = false;
  let graceTimer: NodeJS.Timeout | undefined;
  let endSource: (end: SourceEnd) => void = () => {};
  const sourceClosed = new Promise<SourceEnd>((resolve) => (endSource = resolve));
  const closeSource = (why: string) => endSource({ why });

  const consider = (publication: RemoteTrackPublication, participant: RemoteParticipant) => {
    const sid = publication.sid;
    if (!sid || feeds.has(sid)) return;
    const role = rules.roleOf(publication, participant);
    if (!role || (role.kind === 'video' && !pacer) || (role.kind === 'audio' && !mixer)) return;
    const muted = publication.muted ?? false;
    feeds.set(sid, { sid, participant: participant.identity, role, muted });
    gate.follow(sid, muted);
    everFed = true;
    log.debug({ trackSid: sid, participant: participant.identity, role }, 'subscribing');
    if (publication.track) attach(publication.track, publication);
    else publication.setSubscribed(true);
  };

  const delivered = (feed: Feed) => {
    if (feed.delivered) return;
    feed.delivered = true;
    gate.delivered(feed.sid);
    log.info({ trackSid: feed.sid, kind: feed.role.kind }, 'first media of the track');
  };

  const attach = (track: RemoteTrack, publication: RemoteTrackPublication) => {
    const feed = feeds.get(publication.sid ?? '');
    if (!feed || feed.cancel) return;
    feed.muted = publication.muted ?? false;
    if (feed.role.kind === 'video') {
      activeVideo = feed;
      pacer!.blank();
      feed.cancel = pump(new VideoStream(track), ({ frame }) => {
        if (activeVideo !== feed || feed.muted) return;
        const i420 = frame.type === VideoBufferType.I420 ? frame : frame.convert(VideoBufferType.I420);
        pacer!.show(i420);
        delivered(feed);
      });
    } else {
      const input = mixer!.add(feed.role.channel);
      input.setMuted(feed.muted);
      feed.mixerInput = input;
      feed.cancel = pump(new AudioStream(track, { sampleRate: RAW_AUDIO_RATE, numChannels: RAW_AUDIO_CHANNELS }), (frame) => {
        input.push(frame.data);
        if (!feed.muted) delivered(feed);
      });
    }
    log.info({ trackSid: feed.sid, participant: feed.participant, kind: feed.role.kind, muted: feed.muted }, 'recording track');
  };

  const detach = (sid: string | undefined, why: string) => {
    const feed = feeds.get(sid ?? '');
    if (!feed) return;
    feeds.delete(feed.sid);
    gate.gone(feed.sid);
    feed.cancel?.();
    feed.mixerInput?.remove();
    if (activeVideo === feed) {
      activeVideo = undefined;
      pacer!.blank();
    }
    log.info({ trackSid: feed.sid, participant: feed.participant, why }, 'track gone');
    if (rules.endsWhen === 'tracks_gone' && everFed && feeds.size === 0 && !reconnecting) closeSource('tracks gone');
  };

  const setMuted = (publication: TrackPublication, muted: boolean) => {
    const feed = feeds.get(publication.sid ?? '');
    if (!feed) return;
    feed.muted = muted;
    gate.muted(feed.sid, muted);
    if (feed.role.kind === 'video' && activeVideo === feed && muted) pacer!.blank();
    feed.mixerInput?.setMuted(muted);
    log.info({ trackSid: feed.sid, muted }, muted ? 'track muted' : 'track unmuted');
  };

  const handlers = {
    [RoomEvent.TrackPublished]: (publication: RemoteTrackPublication, participant: RemoteParticipant) => consider(publication, participant),
    [RoomEvent.TrackSubscribed]: (track: RemoteTrack, publication: RemoteTrackPublication) => attach(track, publication),
    [RoomEvent.TrackUnsubscribed]: (_track: RemoteTrack, publication: RemoteTrackPublication) => detach(publication.sid, 'unsubscribed'),
    [RoomEvent.TrackUnpublished]: (publication: RemoteTrackPublication) => detach(publication.sid, 'unpublished'),
    [RoomEvent.TrackMuted]: (publication: TrackPublication, _participant: Participant) => setMuted(publication, true),
    [RoomEvent.TrackUnmuted]: (publication: TrackPublication, _participant: Participant) => setMuted(publication, false),
    [RoomEvent.ParticipantDisconnected]: (participant: RemoteParticipant) => {
      for (const feed of [...feeds.values()]) if (feed.participant === participant.identity) detach(feed.sid, 'participant left');
      if (rules.endsWhen === 'participant_left' && participant.identity === rules.identity && !reconnecting) closeSource(`participant ${participant.identity} left`);
    },
    [RoomEvent.Disconnected]: (reason: DisconnectReason) => {
      if (ROOM_ENDED.has(reason)) closeSource('room closed');
      else endSource({ why: `connection to room failed (${DisconnectReason[reason] ?? reason})`, lost: true });
    },
    [RoomEvent.Reconnecting]: () => {
      reconnecting = true;
      log.warn('connection to the room interrupted; reconnecting');
    },
    [RoomEvent.Reconnected]: () => {
      reconnecting = false;
      log.info('reconnected to the room');
      considerAll();
      if (rules.present(room) && (rules.endsWhen !== 'tracks_gone' || feeds.size > 0)) return;
      clearTimeout(graceTimer);
      graceTimer = setTimeout(() => {
        if (!rules.present(room)) closeSource(`${rules.missing(room)} after reconnecting`);
        else if (rules.endsWhen === 'tracks_gone' && feeds.size === 0) closeSource('tracks gone');
      }, RECONNECT_GRACE_MS);
    },
  } as const;
  function considerAll() {
    for (const participant of room.remoteParticipants.values()) {
      for (const publication of participant.trackPublications.values()) consider(publication, participant);
    }
  }
  for (const [event, handler] of Object.entries(handlers)) room.on(event as RoomEvent, handler as never);
  considerAll();

  return {
    sourceClosed,
    stop() {
      clearTimeout(graceTimer);
      for (const [event, handler] of Object.entries(handlers)) room.off(event as RoomEvent, handler as never);
      for (const feed of feeds.values()) feed.cancel?.();
      feeds.clear();
    },
  };
}

/** Reads a stream to its end, handing each value to `each`; the returned function cancels it. */
function pump<T>(stream: ReadableStream<T>, each: (value: T) => void): () => void {
  const reader = stream.getReader();
  let cancelled = false;
  void (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || cancelled) return;
        each(value);
      }
    } catch {
      // Cancelled, or the track went away: either way there is nothing more to read.
    }
  })();
  return () => {
    cancelled = true;
    void reader.cancel().catch(() => {});
  };
}
