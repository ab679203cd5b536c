/**
 * Track egress to a WebSocket (`websocket_url`), as LiveKit sends it (egress `sink/websocket.go`): the
 * upgrade carries `Content-Type: audio/x-raw`; raw PCM, S16LE 48 kHz stereo interleaved, in binary
 * messages (10 ms each), from the track's first decoded audio on (then the egress is ACTIVE);
 * `{"muted":true|false}` text messages when the track is muted or unmuted; silence while it is muted (or
 * sends nothing), so the stream keeps the wall clock (192 000 B/s); a ping every 30 s; a close frame at the
 * end. The audio is decoded by @livekit/rtc-node (AudioStream).
 * Only an audio track: a video track fails the egress ("format … incompatible with codec …").
 */
import {
  AudioStream,
  DisconnectReason,
  Room,
  RoomEvent,
  TrackKind,
  type RemoteTrack,
  type RemoteTrackPublication,
  type TrackPublication,
} from '@livekit/rtc-node';
import WebSocket from 'ws';
import { asEgressError, EgressError } from '../../shared/errors.ts';
import { redactStreamUrl } from '../../shared/redact.ts';
import { notStarted, recordingOf } from '../recording/recorder-steps.ts';
import type { Recorder, RecordingEnd, RecordingResult, RecordingStart } from '../recording/recorder-contract.ts';
import { liveKitCredentials, recorderToken } from '../room/recorder-token.ts';
import { sidOf } from '../room/room-sid.ts';
import { TRACK_WAIT_MS } from './track-subscriber.ts';
import { dialWebSocket } from './websocket-dial.ts';

const SAMPLE_RATE = 48_000;
const CHANNELS = 2;
const BYTES_PER_SEC = SAMPLE_RATE * CHANNELS * 2;
/** 10 ms of stereo S16LE. */
const CHUNK_BYTES = BYTES_PER_SEC / 100;
const PING_INTERVAL_MS = 30_000;
/** No decoded audio for this long: silence fills in up to the wall clock. */
const SILENCE_AFTER_MS = 60;

export const recordTrackWebSocket: Recorder = (start) => recordingOf(start.log, 'WebSocket track egress', (stopSignal) => record(start, stopSignal));

async function record(start: RecordingStart, stopSignal: AbortSignal): Promise<RecordingResult> {
  const { plan, settings, log } = start;
  const trackId = plan.source.kind === 'track' ? plan.source.trackId : '';
  const websocketUrl = start.outputs.websocket?.url;
  if (!websocketUrl) throw new EgressError('EGR_ERR_INTERNAL', 'the WebSocket URL of this egress is missing');
  const credentials = liveKitCredentials(settings.liveKit);
  const room = new Room();
  let socket: WebSocket | undefined;
  let ended!: (end: RecordingEnd | Error) => void;
  const endOf = new Promise<RecordingEnd | Error>((resolve) => (ended = resolve));
  const onAbort = () => ended('stopped');
  stopSignal.addEventListener('abort', onAbort, { once: true });
  let pump: PcmPump | undefined;
  try {
    room.on(RoomEvent.Disconnected, (reason) =>
      // The room ended: the track is gone with it, as when unpublished.
      ended(
        reason === DisconnectReason.ROOM_DELETED || reason === DisconnectReason.ROOM_CLOSED
          ? 'end_signal'
          : new EgressError('EGR_ERR_UNAVAILABLE', `recording ended early: connection to room failed (${DisconnectReason[reason] ?? reason})`),
      ),
    );
    await room.connect(credentials.wsUrl, await recorderToken(credentials, plan.roomName, plan.egressId), { autoSubscribe: false, dynacast: false });
    if (stopSignal.aborted) return notStarted('stopped');

    const publication = await Promise.race([findPublication(room, trackId), endOf]);
    if (typeof publication === 'string') return notStarted(publication);
    if (publication instanceof Error) throw publication;
    if (publication.kind !== TrackKind.KIND_AUDIO) {
      throw new EgressError(
        'EGR_ERR_INVALID_ARGUMENT',
        `format websocket incompatible with codec ${publication.mimeType ?? 'video'} (a WebSocket output takes an audio track only)`,
      );
    }
    room.on(RoomEvent.TrackUnpublished, (p) => p.sid === trackId && ended('end_signal'));
    room.on(RoomEvent.ParticipantDisconnected, (participant) => participant.trackPublications.has(trackId) && ended('end_signal'));
    const subscribed = new Promise<RemoteTrack>((resolve, reject) => {
      room.on(RoomEvent.TrackSubscribed, (track, p) => p.sid === trackId && resolve(track));
      room.on(
        RoomEvent.TrackSubscriptionFailed,
        (sid, _participant, reason) =>
          sid === trackId && reject(new EgressError('EGR_ERR_UNAVAILABLE', `cannot subscribe to track ${trackId}: ${reason ?? 'failed'}`)),
      );
    });
    publication.setSubscribed(true);
    const track = await Promise.race([subscribed, endOf]);
    if (typeof track === 'string') return notStarted(track);
    if (track instanceof Error) throw track;

    socket = await dialWebSocket(websocketUrl, settings.urlPolicy);
    log.info({ url: redactStreamUrl(websocketUrl) }, 'WebSocket connected');
    socket.on('close', () => ended(new EgressError('EGR_ERR_UPLOAD_FAILED', 'the WebSocket closed')));
    socket.on('error', (err) => ended(new EgressError('EGR_ERR_UPLOAD_FAILED', `WebSocket write failed: ${err.message}`)));
    const sendMuted = (p: TrackPublication, muted: boolean) =>
      p.sid === trackId && socket?.readyState === WebSocket.OPEN && socket.send(JSON.stringify({ muted }));
    room.on(RoomEvent.TrackMuted, (p) => sendMuted(p, true));
    room.on(RoomEvent.TrackUnmuted, (p) => sendMuted(p, false));
    pump = new PcmPump(socket, track);
    const firstAudio = await Promise.race([pump.firstAudio, endOf]);
    if (typeof firstAudio === 'string') {
      await closeSocket(socket);
      return notStarted(firstAudio);
    }
    if (firstAudio instanceof Error) throw firstAudio;
    const startedAtMs = firstAudio;
    start.onActive(startedAtMs, await sidOf(room));

    const end = await endOf;
    if (end instanceof Error) throw end;
    const frames = await pump.stop();
    socket.removeAllListeners('close');
    await closeSocket(socket);
    log.info({ frames, bytes: pump.sentBytes }, 'WebSocket track egress finished');
    return { started: true, end, startedAtMs, endedAtMs: Date.now(), stats: { frames, duplicated: 0, dropped: 0 } };
  } catch (err) {
    throw asEgressError(err);
  } finally {
    stopSignal.removeEventListener('abort', onAbort);
    await pump?.stop();
    if (socket && socket.readyState !== WebSocket.CLOSED) socket.terminate();
    room.removeAllListeners();
    await room.disconnect().catch(() => undefined);
  }
}

/** The publication with `trackId`, waiting up to 30 s for it to be published (LiveKit's wait). */
function findPublication(room: Room, trackId: string): Promise<RemoteTrackPublication> {
  const present = () => {
    for (const participant of room.remoteParticipants.values()) {
      const publication = participant.trackPublications.get(trackId);
      if (publication) return publication;
    }
    return undefined;
  };
  return new Promise((resolve, reject) => {
    const found = present();
    if (found) return resolve(found);
    const timer = setTimeout(() => {
      room.off(RoomEvent.TrackPublished, onPublished);
      reject(new EgressError('EGR_ERR_NOT_FOUND', `track ${trackId} not found`));
    }, TRACK_WAIT_MS);
    const onPublished = (publication: RemoteTrackPublication) => {
      if (publication.sid !== trackId) return;
      clearTimeout(timer);
      room.off(RoomEvent.TrackPublished, onPublished);
      resolve(publication);
    };
    room.on(RoomEvent.TrackPublished, onPublished);
  });
}

function closeSocket(socket: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.readyState === WebSocket.CLOSED) return resolve();
    const timer = setTimeout(() => (socket.terminate(), resolve()), 3000);
    socket.once('close', () => (clearTimeout(timer), resolve()));
    // A close frame with no status code, as LiveKit sends.
    socket.close();
  });
}

/** Decoded audio into the socket from the first on, with silence whenever the track sends none; pings every 30 s. */
class PcmPump {
  sentBytes = 0;
  /** Resolves with the Unix ms of the first decoded audio. */
  readonly firstAudio: Promise<number>;
  private onFirstAudio: (atMs: number) => void = () => {};
  private frames = 0;
  private readonly socket: WebSocket;
  /** performance.now() of the first audio; the silence fill counts from it. */
  private startedAt: number | undefined;
  private lastAudioAt = 0;
  private readonly reader: ReadableStreamDefaultReader<{ data: Int16Array; channels: number; sampleRate: number }>;
  private readonly reading: Promise<void>;
  private readonly silenceTimer: NodeJS.Timeout;
  private readonly pingTimer: NodeJS.Timeout;
  private stopped?: Promise<number>;

  constructor(socket: WebSocket, track: RemoteTrack) {
    this.socket = socket;
    this.firstAudio = new Promise((resolve) => (this.onFirstAudio = resolve));
    this.reader = new AudioStream(track, { sampleRate: SAMPLE_RATE, numChannels: CHANNELS }).getReader();
    this.reading = this.read();
    this.silenceTimer = setInterval(() => this.fillSilence(), 10);
    this.pingTimer = setInterval(() => socket.readyState === WebSocket.OPEN && socket.ping('ping'), PING_INTERVAL_MS);
  }

  /** Stops reading; resolves with the number of messages sent. Idempotent. */
  stop(): Promise<number> {
    this.stopped ??= (async () => {
      clearInterval(this.silenceTimer);
      clearInterval(this.pingTimer);
      await this.reader.cancel().catch(() => undefined);
      await this.reading;
      return this.frames;
    })();
    return this.stopped;
  }

  private async read(): Promise<void> {
    for (;;) {
      const { value, done } = await this.reader.read().catch(() => ({ value: undefined, done: true as const }));
      if (done || !value) return;
      if (value.sampleRate !== SAMPLE_RATE || value.channels !== CHANNELS) continue;
      this.lastAudioAt = performance.now();
      if (this.startedAt === undefined) {
        this.startedAt = this.lastAudioAt;
        this.onFirstAudio(Date.now());
      }
      this.send(Buffer.from(value.data.buffer, value.data.byteOffset, value.data.byteLength));
    }
  }

  private fillSilence(): void {
    const now = performance.now();
    if (this.startedAt === undefined || now - this.lastAudioAt < SILENCE_AFTER_MS) return;
    const due = Math.floor(((now - this.startedAt) / 1000) * BYTES_PER_SEC);
    while (this.sentBytes + CHUNK_BYTES <= due) this.send(Buffer.alloc(CHUNK_BYTES));
  }

  private send(chunk: Buffer): void {
    if (this.socket.readyState !== WebSocket.OPEN) return;
    this.socket.send(chunk, { binary: true });
    this.sentBytes += chunk.length;
    this.frames += 1;
  }
}
