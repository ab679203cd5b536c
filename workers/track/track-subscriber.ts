/**
 * One published track of a LiveKit room, received as encoded RTP: joins with the signalling client as a
 * hidden subscribe-only participant, waits up to 30 s for the track id to be published, subscribes to it
 * alone, and answers the server's subscriber offers with a werift RTCPeerConnection. Reports the track's
 * mute changes and its end (unpublished, its participant gone, or the room connection lost).
 */
import {
  DisconnectReason,
  type ParticipantInfo,
  ParticipantInfo_State,
  ParticipantTracks,
  SessionDescription,
  SignalTarget,
  SubscriptionError,
  type TrackInfo,
  TrackSource,
  TrackType,
  TrickleRequest,
  UpdateSubscription,
} from '@livekit/protocol';
import type { Logger } from 'pino';
import { parse as parseSdp, parseParams, type MediaDescription } from 'sdp-transform';
import {
  type MediaStreamTrack,
  RTCPeerConnection,
  type RTCRtpCodecParameters,
  type RTCRtpReceiver,
  type RTCRtpTransceiver,
  useH264,
  useOPUS,
  usePCMA,
  usePCMU,
  useVP8,
  useVP9,
} from 'werift';
import { EgressError } from '../../shared/errors.ts';
import type { NamingVars } from '../../shared/naming.ts';
import { SignalClient, type SignalMessage } from './signal-client.ts';

/** LiveKit egress waits this long for a track to be published (egress `source/sdk.go`). */
export const TRACK_WAIT_MS = 30_000;

export interface ReceivedTrack {
  kind: 'audio' | 'video';
  info: TrackInfo;
  participant: ParticipantInfo;
  /** Negotiated codec, e.g. `video/H264`, `audio/opus`, with its clock rate and payload type. */
  codec: RTCRtpCodecParameters;
  track: MediaStreamTrack;
  receiver: RTCRtpReceiver;
}

export interface TrackSubscriberOptions {
  wsUrl: string;
  token: string;
  trackId: string;
  log: Logger;
  /** The track's mute state changed (from `ParticipantUpdate`). */
  onMuted?: (muted: boolean) => void;
  /** The track or the connection ended; called once, not after close(). `lost`: the room connection failed. */
  onEnded: (reason: string, lost: boolean) => void;
  /** Milliseconds to wait for the track to be published (default TRACK_WAIT_MS). */
  waitMs?: number;
}

const SOURCE_NAMES: Partial<Record<TrackSource, string>> = {
  [TrackSource.CAMERA]: 'camera',
  [TrackSource.MICROPHONE]: 'microphone',
  [TrackSource.SCREEN_SHARE]: 'screen_share',
  [TrackSource.SCREEN_SHARE_AUDIO]: 'screen_share_audio',
};

export class TrackSubscriber {
  /** Resolves once the track's m-line is negotiated; rejects (EgressError) when it cannot be. */
  readonly received: Promise<ReceivedTrack>;
  private readonly options: TrackSubscriberOptions;
  private readonly log: Logger;
  private readonly participants = new Map<string, ParticipantInfo>();
  private signal?: SignalClient;
  private pc?: RTCPeerConnection;
  private roomSid = '';
  private publisher?: ParticipantInfo;
  private muted?: boolean;
  private subscribed = false;
  private closed = false;
  private ended = false;
  private waitTimer?: NodeJS.Timeout;
  private resolveReceived!: (track: ReceivedTrack) => void;
  private rejectReceived!: (err: Error) => void;
  private settled = false;
  private negotiation: Promise<void> = Promise.resolve();
  private pending?: { track: MediaStreamTrack; transceiver: RTCRtpTransceiver };

  constructor(options: TrackSubscriberOptions) {
    this.options = options;
    this.log = options.log;
    this.received = new Promise((resolve, reject) => {
      this.resolveReceived = (track) => ((this.settled = true), resolve(track));
      this.rejectReceived = (err) => ((this.settled = true), reject(err));
    });
    this.received.catch(() => undefined);
  }

  /** Naming variables the room told us: room id, publisher identity, track type and source. */
  namingVars(): Partial<NamingVars> {
    const info = this.publisher?.tracks.find((t) => t.sid === this.options.trackId);
    const source = info && SOURCE_NAMES[info.source];
    return {
      ...(this.roomSid ? { roomId: this.roomSid } : {}),
      ...(this.publisher ? { publisherIdentity: this.publisher.identity } : {}),
      ...(info ? { trackType: info.type === TrackType.VIDEO ? 'video' : 'audio' } : {}),
      ...(source ? { trackSource: source } : {}),
    };
  }

  async start(): Promise<void> {
    this.signal = await SignalClient.connect({
      url: this.options.wsUrl,
      token: this.options.token,
      log: this.log,
      onMessage: (message) => this.onSignal(message),
      onClose: (reason) => this.end(`connection to room failed: ${reason}`, true),
    });
    if (this.closed) return void (await this.signal.close());
    const { join } = this.signal;
    this.roomSid = join.room?.sid ?? '';
    this.log.info({ room: join.room?.name, roomSid: this.roomSid, server: join.serverInfo?.version }, 'joined the LiveKit room');
    this.pc = this.createPeerConnection();
    for (const p of join.otherParticipants) this.participants.set(p.sid, p);
    this.waitTimer = setTimeout(() => {
      if (!this.subscribed) this.fail(new EgressError('EGR_ERR_NOT_FOUND', `track ${this.options.trackId} not found`));
    }, this.options.waitMs ?? TRACK_WAIT_MS);
    this.lookForTrack();
  }

  /** Asks the publisher for a keyframe (RTCP PLI), once the track's SSRC is known. */
  requestKeyframe(ssrc: number, receiver: RTCRtpReceiver): void {
    void receiver.sendRtcpPLI(ssrc).catch((err: Error) => this.log.debug({ err: err.message }, 'PLI not sent'));
  }

  /** Leaves the room and closes the PeerConnection. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.waitTimer);
    if (!this.settled) this.rejectReceived(new EgressError('EGR_ERR_INTERNAL', 'closed before the track was received'));
    await this.signal?.close().catch(() => undefined);
    await this.pc?.close().catch(() => undefined);
  }

  private fail(err: Error): void {
    if (!this.settled) this.rejectReceived(err);
    else this.end(err.message, true);
  }

  private end(reason: string, lost: boolean): void {
    if (this.closed) return;
    if (!this.settled) return this.rejectReceived(new EgressError('EGR_ERR_UNAVAILABLE', reason));
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.waitTimer);
    this.log.info({ reason }, 'track ended');
    this.options.onEnded(reason, lost);
  }

  private createPeerConnection(): RTCPeerConnection {
    const join = this.signal!.join;
    const loopback = /^(localhost|127\.|\[::1\])/.test(new URL(this.options.wsUrl).hostname);
    const pc = new RTCPeerConnection({
      iceServers: join.iceServers.flatMap((s) => s.urls.map((urls) => ({ urls, username: s.username, credential: s.credential }))),
      codecs: { video: [useH264(), useVP8(), useVP9()], audio: [useOPUS(), usePCMU(), usePCMA()] },
      ...(loopback ? { iceAdditionalHostAddresses: ['127.0.0.1'] } : {}),
    });
    pc.onIceCandidate.subscribe((candidate) => {
      if (!candidate) return;
      this.signal?.send({
        case: 'trickle',
        value: new TrickleRequest({ candidateInit: JSON.stringify(candidate.toJSON()), target: SignalTarget.SUBSCRIBER }),
      });
    });
    pc.connectionStateChange.subscribe((state) => {
      this.log.debug({ state }, 'subscriber PeerConnection');
      if (state === 'failed') this.end('connection to room failed: the media connection failed', true);
    });
    pc.onTrack.subscribe((track) => {
      const transceiver = pc.getTransceivers().find((t) => t.receiver.tracks.includes(track));
      if (transceiver?.receiver.remoteTrackId === this.options.trackId && !this.settled) this.pending = { track, transceiver };
    });
    return pc;
  }

  private onSignal(message: SignalMessage): void {
    switch (message.case) {
      case 'offer':
        this.negotiation = this.negotiation
          .then(() => this.answer(message.value))
          .catch((err: Error) => this.fail(new EgressError('EGR_ERR_INTERNAL', `subscriber negotiation failed: ${err.message}`)));
        return;
      case 'trickle':
        if (message.value.target !== SignalTarget.SUBSCRIBER) return;
        this.negotiation = this.negotiation.then(async () => {
          const init = JSON.parse(message.value.candidateInit) as { candidate: string; sdpMid?: string; sdpMLineIndex?: number };
          await this.pc?.addIceCandidate(init).catch((err: Error) => this.log.debug({ err: err.message }, 'ICE candidate not added'));
        });
        return;
      case 'update':
        for (const p of message.value.participants) this.onParticipant(p);
        return;
      case 'trackUnpublished':
        if (message.value.trackSid === this.options.trackId && this.subscribed) this.end('Source closed', false);
        return;
      case 'subscriptionResponse':
        if (message.value.trackSid === this.options.trackId && message.value.err !== SubscriptionError.SE_UNKNOWN) {
          const err =
            message.value.err === SubscriptionError.SE_CODEC_UNSUPPORTED
              ? 'the track codec is not supported'
              : `track ${this.options.trackId} not found`;
          this.fail(
            new EgressError(message.value.err === SubscriptionError.SE_CODEC_UNSUPPORTED ? 'EGR_ERR_NOT_SUPPORTED' : 'EGR_ERR_NOT_FOUND', err),
          );
        }
        return;
      case 'leave': {
        const reason = message.value.reason;
        // The room ended: the track is gone with it, as when unpublished.
        if (reason === DisconnectReason.ROOM_DELETED || reason === DisconnectReason.ROOM_CLOSED) this.end('Source closed', false);
        else this.end(`connection to room failed: the server asked us to leave (${DisconnectReason[reason] ?? reason})`, true);
        return;
      }
      default:
        return;
    }
  }

  private async answer(offer: SessionDescription): Promise<void> {
    const pc = this.pc;
    if (!pc || this.closed) return;
    const info = this.publisher?.tracks.find((t) => t.sid === this.options.trackId);
    const mid = Object.entries(offer.midToTrackId).find(([, track]) => track === this.options.trackId)?.[0];
    await pc.setRemoteDescription({ type: 'offer', sdp: info ? offerForTrack(offer.sdp, mid, info.mimeType) : offer.sdp });
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    this.signal?.send({ case: 'answer', value: new SessionDescription({ type: 'answer', sdp: pc.localDescription!.sdp, id: offer.id }) });
    if (this.pending && !this.settled) this.onNegotiated(this.pending.track, this.pending.transceiver);
  }

  private onNegotiated(track: MediaStreamTrack, transceiver: RTCRtpTransceiver): void {
    const codec = transceiver.codecs[0];
    const participant = this.publisher;
    const info = participant?.tracks.find((t) => t.sid === this.options.trackId);
    if (!codec || !participant || !info)
      return this.fail(new EgressError('EGR_ERR_NOT_SUPPORTED', `no codec of track ${this.options.trackId} could be negotiated`));
    clearTimeout(this.waitTimer);
    this.log.info({ codec: codec.mimeType, payloadType: codec.payloadType, fmtp: codec.parameters }, 'track negotiated');
    this.resolveReceived({ kind: track.kind === 'video' ? 'video' : 'audio', info, participant, codec, track, receiver: transceiver.receiver });
  }

  private onParticipant(update: ParticipantInfo): void {
    const known = this.participants.get(update.sid);
    if (known && update.version && known.version > update.version) return;
    const disconnected = update.state === ParticipantInfo_State.DISCONNECTED;
    if (disconnected) this.participants.delete(update.sid);
    else this.participants.set(update.sid, update);
    if (!this.subscribed) return this.lookForTrack();
    if (update.sid !== this.publisher?.sid) return;
    const info = update.tracks.find((t) => t.sid === this.options.trackId);
    if (disconnected || !info) return this.end('Source closed', false);
    this.publisher = update;
    if (info.muted !== this.muted) {
      this.muted = info.muted;
      this.options.onMuted?.(info.muted);
    }
  }

  private lookForTrack(): void {
    if (this.subscribed || this.closed) return;
    for (const participant of this.participants.values()) {
      const info = participant.tracks.find((t) => t.sid === this.options.trackId);
      if (!info) continue;
      this.subscribed = true;
      this.publisher = participant;
      this.muted = info.muted;
      clearTimeout(this.waitTimer);
      this.log.info(
        { participant: participant.identity, type: TrackType[info.type], mimeType: info.mimeType, muted: info.muted },
        'track found; subscribing',
      );
      this.signal?.send({
        case: 'subscription',
        value: new UpdateSubscription({
          subscribe: true,
          trackSids: [info.sid],
          participantTracks: [new ParticipantTracks({ participantSid: participant.sid, trackSids: [info.sid] })],
        }),
      });
      // Negotiation and the first offer normally follow within a second; the 30 s covers a slow server too.
      this.waitTimer = setTimeout(() => {
        if (!this.settled) this.fail(new EgressError('EGR_ERR_UNAVAILABLE', `track ${this.options.trackId} was not delivered by the LiveKit server`));
      }, this.options.waitMs ?? TRACK_WAIT_MS);
      return;
    }
  }
}

/**
 * The offer as werift should see it. werift answers, per m-line, the first offered payload type of each
 * codec it knows, in its own codec order and whatever the fmtp (design notes §2.2), while the server
 * forwards the publisher's codec whatever we answer. So the m-line of our track keeps only the payload
 * types of the track's codec (and their RTX), H.264 `packetization-mode=1` ones when there are any.
 */
export function offerForTrack(sdp: string, mid: string | undefined, mimeType: string): string {
  if (!mid) return sdp;
  const offered = parseSdp(sdp).media;
  const index = offered.findIndex((m) => m.mid !== undefined && String(m.mid) === mid);
  const media = offered[index];
  const kept = media && payloadsToKeep(media, mimeType.split('/')[1]!.toLowerCase());
  // Not offered: left to werift (the m-line is then rejected), the offer as the server wrote it.
  if (!media || !kept) return sdp;
  // The lines are edited, not the whole offer rewritten: sdp-transform's writer does not give back every line as
  // it read it (an msid with a `|` in it, the candidates' ufrag), and werift must see the rest as the server wrote it.
  const sections: string[][] = [[]];
  for (const line of sdp.split('\r\n')) {
    if (line.startsWith('m=')) sections.push([]);
    sections.at(-1)!.push(line);
  }
  // Section 0 is the session's; the m-line's fields after the third are its payload types.
  sections[index + 1] = sections[index + 1]!.filter((line) => {
    const pt = payloadOfLine(line);
    return pt === undefined || pt === '*' || kept.has(Number(pt));
  }).map((line, i) =>
    i === 0
      ? line
          .split(' ')
          .filter((field, j) => j < 3 || kept.has(Number(field)))
          .join(' ')
      : line,
  );
  return sections.flat().join('\r\n');
}

/** The payload type an `a=rtpmap`, `a=fmtp` or `a=rtcp-fb` line is about (`*`: every one); undefined for other lines. */
function payloadOfLine(line: string): string | undefined {
  if (!line.startsWith('a=')) return undefined;
  const attributes = parseSdp(`m=audio 9 RTP/AVP 0\r\n${line}`).media[0];
  const pt = attributes?.rtp[0]?.payload ?? attributes?.fmtp[0]?.payload ?? attributes?.rtcpFb?.[0]?.payload;
  return pt === undefined ? undefined : String(pt);
}

/** The payload types of `codecName` in the m-line (H.264: the `packetization-mode=1` ones if any) and their RTX; none offered: undefined. */
function payloadsToKeep(media: MediaDescription, codecName: string): Set<number> | undefined {
  const params = new Map(media.fmtp.map((f) => [f.payload, parseParams(f.config)]));
  let keep = media.rtp.filter((r) => r.codec.toLowerCase() === codecName).map((r) => r.payload);
  if (codecName === 'h264') {
    const mode1 = keep.filter((pt) => params.get(pt)?.['packetization-mode'] === 1);
    if (mode1.length) keep = mode1;
  }
  if (keep.length === 0) return undefined;
  const kept = new Set(keep);
  for (const r of media.rtp) {
    const apt = params.get(r.payload)?.apt;
    if (r.codec.toLowerCase() === 'rtx' && typeof apt === 'number' && kept.has(apt)) kept.add(r.payload);
  }
  return kept;
}
