/**
 * A test publisher: joins a LiveKit room with @livekit/rtc-node as one participant and publishes synthetic
 * camera and microphone tracks that a recording can be checked against:
 *  - video (I420): a flat colour of the participant's own hue (so a layout can be read off a decoded frame),
 *    a bright bar sweeping left to right once every 2 s (motion), and a white **flash** for the first 100 ms
 *    of every second;
 *  - audio (48 kHz mono): silence with a 1 kHz **beep** for the first 100 ms of every second.
 * Flash and beep start on the same second boundaries of one clock, so their offset in a recording is its A/V
 * sync error. Mute, unmute, unpublish, republish and leave on cue (rtc-node has no local mute: the server
 * mutes the track, as a moderator would; unmuting needs the server's `room.enable_remote_unmute`).
 */
import {
  AudioFrame,
  AudioSource,
  LocalAudioTrack,
  LocalVideoTrack,
  Room,
  TrackPublishOptions,
  TrackSource,
  VideoBufferType,
  VideoCodec,
  VideoFrame,
  VideoSource,
  type LocalTrack,
} from '@livekit/rtc-node';
import { AccessToken, RoomServiceClient } from 'livekit-server-sdk';

export type Codec = 'vp8' | 'h264';
export type MediaKind = 'video' | 'audio';

export interface PublisherOptions {
  url: string;
  apiKey: string;
  apiSecret: string;
  room: string;
  identity: string;
  /** 0–5: picks the participant's colour (PARTICIPANT_COLOURS). */
  colourIndex?: number;
  video?: { codec?: Codec; width?: number; height?: number; fps?: number } | false;
  audio?: boolean;
  /** Screen share instead of a camera. */
  screenShare?: boolean;
}

/** Participant colours as I420 (U, V) with a mid luma; names say what a decoded frame looks like. */
export const PARTICIPANT_COLOURS = [
  { name: 'red', y: 82, u: 90, v: 240 },
  { name: 'green', y: 145, u: 54, v: 34 },
  { name: 'blue', y: 41, u: 240, v: 110 },
  { name: 'yellow', y: 210, u: 16, v: 146 },
  { name: 'magenta', y: 107, u: 202, v: 222 },
  { name: 'cyan', y: 170, u: 166, v: 16 },
] as const;

export const FLASH_MS = 100;
export const BEEP_HZ = 1000;
const SAMPLE_RATE = 48_000;
const AUDIO_FRAME_MS = 10;

export interface TestPublisher {
  identity: string;
  room: Room;
  /** Track sids as published now (a republish changes them). */
  trackSid(kind: MediaKind): string | undefined;
  mute(kind: MediaKind): Promise<void>;
  unmute(kind: MediaKind): Promise<void>;
  unpublish(kind: MediaKind): Promise<void>;
  republish(kind: MediaKind): Promise<void>;
  /** Disconnects and stops the generators. */
  leave(): Promise<void>;
}

export async function startPublisher(options: PublisherOptions): Promise<TestPublisher> {
  const token = new AccessToken(options.apiKey, options.apiSecret, { identity: options.identity, name: options.identity });
  token.addGrant({ roomJoin: true, room: options.room, canPublish: true, canSubscribe: false });
  const room = new Room();
  await room.connect(options.url, await token.toJwt(), { autoSubscribe: false, dynacast: false });
  const epoch = performance.now();
  const colour = PARTICIPANT_COLOURS[(options.colourIndex ?? 0) % PARTICIPANT_COLOURS.length]!;
  const video =
    options.video === false
      ? undefined
      : {
          codec: options.video?.codec ?? 'vp8',
          width: options.video?.width ?? 640,
          height: options.video?.height ?? 360,
          fps: options.video?.fps ?? 30,
        };
  const generators: { stop(): void }[] = [];
  const tracks = new Map<MediaKind, { track: LocalTrack; sid: string }>();

  const publishVideo = async () => {
    if (!video) return;
    const source = new VideoSource(video.width, video.height);
    const track = LocalVideoTrack.createVideoTrack(`${options.identity}-camera`, source);
    const publishOptions = new TrackPublishOptions({
      source: options.screenShare ? TrackSource.SOURCE_SCREENSHARE : TrackSource.SOURCE_CAMERA,
      videoCodec: video.codec === 'h264' ? VideoCodec.H264 : VideoCodec.VP8,
      simulcast: false,
    });
    const publication = await room.localParticipant!.publishTrack(track, publishOptions);
    tracks.set('video', { track, sid: publication.sid! });
    generators.push(videoGenerator(source, video, colour, epoch));
  };
  const publishAudio = async () => {
    if (options.audio === false) return;
    const source = new AudioSource(SAMPLE_RATE, 1, 100);
    const track = LocalAudioTrack.createAudioTrack(`${options.identity}-microphone`, source);
    const publication = await room.localParticipant!.publishTrack(
      track,
      new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE, red: false, dtx: false }),
    );
    tracks.set('audio', { track, sid: publication.sid! });
    generators.push(audioGenerator(source, epoch));
  };
  const publishKind = (kind: MediaKind) => (kind === 'video' ? publishVideo() : publishAudio());
  await Promise.all([publishVideo(), publishAudio()]);

  const rooms = new RoomServiceClient(options.url.replace(/^ws/, 'http'), options.apiKey, options.apiSecret);
  const published = (kind: MediaKind) => {
    const entry = tracks.get(kind);
    if (!entry) throw new Error(`${options.identity} publishes no ${kind}`);
    return entry;
  };
  return {
    identity: options.identity,
    room,
    trackSid: (kind) => tracks.get(kind)?.sid,
    mute: async (kind) => void (await rooms.mutePublishedTrack(options.room, options.identity, published(kind).sid, true)),
    unmute: async (kind) => void (await rooms.mutePublishedTrack(options.room, options.identity, published(kind).sid, false)),
    async unpublish(kind) {
      await room.localParticipant!.unpublishTrack(published(kind).sid);
      tracks.delete(kind);
    },
    republish: (kind) => publishKind(kind),
    async leave() {
      for (const generator of generators) generator.stop();
      await room.disconnect();
    },
  };
}

/** `count` publishers in one room, identities `<prefix>1…n`, colours in order. */
export async function startPublishers(
  count: number,
  options: Omit<PublisherOptions, 'identity' | 'colourIndex'> & { identityPrefix?: string },
): Promise<TestPublisher[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) => startPublisher({ ...options, identity: `${options.identityPrefix ?? 'p'}${i + 1}`, colourIndex: i })),
  );
}

/** True for the first FLASH_MS of every second since `epoch`: the flash and the beep. */
const inFlash = (msSinceEpoch: number): boolean => msSinceEpoch % 1000 < FLASH_MS;

function videoGenerator(
  source: VideoSource,
  video: { width: number; height: number; fps: number },
  colour: (typeof PARTICIPANT_COLOURS)[number],
  epoch: number,
): { stop(): void } {
  const { width, height, fps } = video;
  const lumaSize = width * height;
  const chromaSize = (width / 2) * (height / 2);
  const frame = new Uint8Array(lumaSize + 2 * chromaSize);
  const barWidth = Math.max(2, Math.floor(width / 16)) & ~1;
  let stopped = false;
  // A republished track picks up where the clock is, so its flashes stay on the second boundaries.
  let index = Math.max(0, Math.ceil(((performance.now() - epoch) * fps) / 1000));
  const tick = () => {
    if (stopped) return;
    const ms = index * (1000 / fps);
    if (inFlash(ms)) {
      frame.fill(235, 0, lumaSize);
      frame.fill(128, lumaSize);
    } else {
      frame.fill(colour.y, 0, lumaSize);
      frame.fill(colour.u, lumaSize, lumaSize + chromaSize);
      frame.fill(colour.v, lumaSize + chromaSize);
      const x = Math.floor(((ms % 2000) / 2000) * (width - barWidth)) & ~1;
      for (let row = 0; row < height; row++) frame.fill(250, row * width + x, row * width + x + barWidth);
    }
    source.captureFrame(new VideoFrame(frame, width, height, VideoBufferType.I420), BigInt(Math.round(ms * 1000)));
    index += 1;
    // Frames not captured in time are lost, as a camera loses them, rather than sent late in a burst.
    index = Math.max(index, Math.floor(((performance.now() - epoch) * fps) / 1000));
    // Drift-free pacing: the next frame is due at epoch + index / fps.
    timer = setTimeout(tick, Math.max(0, epoch + index * (1000 / fps) - performance.now()));
  };
  let timer = setTimeout(tick, Math.max(0, epoch + index * (1000 / fps) - performance.now()));
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** How far audio generation may run ahead of the wall clock: enough to never starve the source. */
const AUDIO_LEAD_MS = 40;
/** How far behind the wall clock audio generation may fall before it skips ahead to it. */
const MAX_AUDIO_LATE_MS = 20;

function audioGenerator(source: AudioSource, epoch: number): { stop(): void } {
  const samples = (SAMPLE_RATE * AUDIO_FRAME_MS) / 1000;
  let stopped = false;
  // Samples since epoch; a republished track picks up where the clock is, so its beeps stay on the second boundaries.
  let position = Math.max(0, Math.ceil(((performance.now() - epoch) * SAMPLE_RATE) / 1000 / samples) * samples);
  const run = async () => {
    while (!stopped) {
      // Paced by the wall clock, not by the source's queue: a burst at the start would make the receiving
      // jitter buffer time-compress the audio (WebRTC's accelerate) and shift the beeps.
      const waitMs = epoch + (position * 1000) / SAMPLE_RATE - AUDIO_LEAD_MS - performance.now();
      if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
      // Behind the clock (this process was busy): the samples not captured in time are lost, as a real
      // microphone loses them; sending them late would shift every later beep behind its flash for good.
      if (-(waitMs + AUDIO_LEAD_MS) > MAX_AUDIO_LATE_MS) position = Math.ceil(((performance.now() - epoch) * SAMPLE_RATE) / 1000 / samples) * samples;
      const pcm = new Int16Array(samples);
      for (let i = 0; i < samples; i++) {
        const n = position + i;
        if (inFlash((n * 1000) / SAMPLE_RATE)) pcm[i] = Math.round(0.5 * 32767 * Math.sin((2 * Math.PI * BEEP_HZ * n) / SAMPLE_RATE));
      }
      position += samples;
      await source.captureFrame(new AudioFrame(pcm, SAMPLE_RATE, 1, samples)).catch(() => (stopped = true));
    }
  };
  void run();
  return {
    stop() {
      stopped = true;
      void source.close();
    },
  };
}
