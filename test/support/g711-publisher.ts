/**
 * A test publisher of a G.711 audio track (PCMU or PCMA, as a SIP participant publishes), which rtc-node
 * cannot make (it publishes Opus only): werift as the publisher PeerConnection, speaking LiveKit signalling
 * with workers/track/signal-client.ts. It joins (publish-only, so the publisher PC is primary), sends an
 * AddTrackRequest (microphone), offers a sendonly audio m-line with the one G.711 codec, and sends RTP every
 * 20 ms (160 samples at 8 kHz): silence with a 1 kHz **beep** for the first 100 ms of every second, as
 * test/support/publisher.ts does. Packets are paced on the wall clock (a late timer sends what is due), and
 * the RTP timestamp follows the samples sent.
 */
import { AddTrackRequest, SessionDescription, SignalTarget, TrackSource, TrackType, TrickleRequest, type TrackInfo } from '@livekit/protocol';
import { AccessToken } from 'livekit-server-sdk';
import { pino } from 'pino';
import { MediaStreamTrack, RTCPeerConnection, RtpHeader, RtpPacket, usePCMA, usePCMU, type RTCRtpTransceiver } from 'werift';
import { linearToAlaw, linearToUlaw, type G711Law } from '../../workers/track/codecs.ts';
import { SignalClient, type SignalMessage } from '../../workers/track/signal-client.ts';
import { BEEP_HZ, FLASH_MS } from './publisher.ts';

export interface G711PublisherOptions {
  url: string;
  apiKey: string;
  apiSecret: string;
  room: string;
  identity: string;
  law: G711Law;
}

export interface G711Publisher {
  identity: string;
  trackSid: string;
  /** The track as the TrackPublishedResponse gave it (no mimeType yet: the server learns it from the media). */
  info: TrackInfo;
  /** RTP packets sent so far. */
  sent(): number;
  /** Stops sending RTP for a while (as lost packets or a muted SIP leg would look), without a mute signal. */
  pause(ms: number): Promise<void>;
  /** Leaves the room and closes the PeerConnection. */
  leave(): Promise<void>;
}

const CLOCK_RATE = 8000;
const PACKET_SAMPLES = 160;
const PACKET_MS = 20;
const AMPLITUDE = 16_000;
const CONNECT_TIMEOUT_MS = 15_000;

export async function startG711Publisher(options: G711PublisherOptions): Promise<G711Publisher> {
  const token = new AccessToken(options.apiKey, options.apiSecret, { identity: options.identity, name: options.identity });
  token.addGrant({ roomJoin: true, room: options.room, canPublish: true, canSubscribe: false });
  const log = pino({ level: process.env.G711_PUBLISHER_LOG ?? 'silent' });

  // Before the signalling connection, so that a candidate it brings finds the connection (it is added once the answer is in).
  const pc = new RTCPeerConnection({
    iceServers: [],
    codecs: { audio: [options.law === 'pcmu' ? usePCMU() : usePCMA()], video: [] },
    iceAdditionalHostAddresses: ['127.0.0.1'],
  });
  const pendingCandidates: string[] = [];
  let onPublished: ((info: TrackInfo) => void) | undefined;
  let onAnswer: ((sdp: string) => void) | undefined;
  const onMessage = (message: SignalMessage) => {
    switch (message.case) {
      case 'trackPublished':
        onPublished?.(message.value.track!);
        return;
      case 'answer':
        onAnswer?.(message.value.sdp);
        return;
      case 'trickle':
        if (message.value.target !== SignalTarget.PUBLISHER) return;
        if (pc.remoteDescription) void addCandidate(pc, message.value.candidateInit);
        else pendingCandidates.push(message.value.candidateInit);
        return;
      default:
        return;
    }
  };
  const signal = await SignalClient.connect({
    url: options.url,
    token: await token.toJwt(),
    log,
    onMessage,
    onClose: (reason) => log.warn({ reason }, 'signalling closed'),
    publisher: true,
  }).catch(async (err: unknown) => {
    await pc.close();
    throw err;
  });

  pc.onIceCandidate.subscribe((candidate) => {
    if (!candidate) return;
    signal.send({
      case: 'trickle',
      value: new TrickleRequest({ candidateInit: JSON.stringify(candidate.toJSON()), target: SignalTarget.PUBLISHER }),
    });
  });
  const track = new MediaStreamTrack({ kind: 'audio' });
  const transceiver: RTCRtpTransceiver = pc.addTransceiver(track, { direction: 'sendonly' });

  const published = new Promise<TrackInfo>((resolve) => (onPublished = resolve));
  signal.send({
    case: 'addTrack',
    value: new AddTrackRequest({
      cid: track.id,
      name: `${options.law}-microphone`,
      type: TrackType.AUDIO,
      source: TrackSource.MICROPHONE,
      disableRed: true,
      disableDtx: true,
    }),
  });
  const info = await withTimeout(published, 'no TrackPublishedResponse');

  const answered = new Promise<string>((resolve) => (onAnswer = resolve));
  await pc.setLocalDescription(await pc.createOffer());
  signal.send({ case: 'offer', value: new SessionDescription({ type: 'offer', sdp: pc.localDescription!.sdp, id: 1 }) });
  await pc.setRemoteDescription({ type: 'answer', sdp: await withTimeout(answered, 'no answer to the publisher offer') });
  for (const candidate of pendingCandidates.splice(0)) await addCandidate(pc, candidate);
  await withTimeout(
    new Promise<void>((resolve) => {
      if (pc.connectionState === 'connected') return resolve();
      pc.connectionStateChange.subscribe((state) => state === 'connected' && resolve());
    }),
    'the publisher PeerConnection did not connect',
  );

  // Paced on the wall clock: every tick sends the packets due since the start.
  const encode = options.law === 'pcmu' ? linearToUlaw : linearToAlaw;
  const startedAt = performance.now();
  let packets = 0;
  let sent = 0;
  let pausedUntil = 0;
  let sequenceNumber = Math.floor(Math.random() * 0xffff);
  const timestampBase = Math.floor(Math.random() * 0xffffffff);
  const timer = setInterval(() => {
    const due = Math.floor((performance.now() - startedAt) / PACKET_MS);
    for (; packets < due; packets++) {
      const firstSample = packets * PACKET_SAMPLES;
      if (performance.now() < pausedUntil) continue; // paused: the timestamps go on, nothing is sent
      const payload = Buffer.alloc(PACKET_SAMPLES);
      for (let i = 0; i < PACKET_SAMPLES; i++) {
        const n = firstSample + i;
        const inBeep = n % CLOCK_RATE < (CLOCK_RATE * FLASH_MS) / 1000;
        payload[i] = encode(inBeep ? AMPLITUDE * Math.sin((2 * Math.PI * BEEP_HZ * n) / CLOCK_RATE) : 0);
      }
      const header = new RtpHeader({
        payloadType: transceiver.codecs[0]?.payloadType ?? (options.law === 'pcmu' ? 0 : 8),
        sequenceNumber: sequenceNumber++ & 0xffff,
        timestamp: (timestampBase + firstSample) >>> 0,
        marker: sent === 0,
      });
      void transceiver.sender.sendRtp(new RtpPacket(header, payload)).catch(() => undefined);
      sent += 1;
    }
  }, 5);

  let left = false;
  return {
    identity: options.identity,
    trackSid: info.sid,
    info,
    sent: () => sent,
    async pause(ms) {
      pausedUntil = performance.now() + ms;
      await new Promise((resolve) => setTimeout(resolve, ms));
    },
    async leave() {
      if (left) return;
      left = true;
      clearInterval(timer);
      await signal.close();
      await pc.close();
    },
  };
}

async function addCandidate(pc: RTCPeerConnection, candidateInit: string): Promise<void> {
  const init = JSON.parse(candidateInit) as { candidate: string; sdpMid?: string; sdpMLineIndex?: number };
  await pc.addIceCandidate(init).catch(() => undefined);
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>(
      (_, reject) =>
        (timer = setTimeout(() => reject(new Error(`G.711 publisher: ${what} within ${CONNECT_TIMEOUT_MS / 1000} s`)), CONNECT_TIMEOUT_MS)),
    ),
  ]);
}
