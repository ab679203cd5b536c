/** Plans and recorder settings for tests and benchmarks that run a recorder directly, without the API. */
import type { EgressPlan, FileType, ImageOutputPlan } from '../../shared/egress-plan.ts';
import type { RecorderSettings } from '../../workers/recording/recorder-contract.ts';
import { DEFAULT_LIMITS } from '../../shared/limits.ts';

export const TEST_RECORDER_SETTINGS: RecorderSettings = {
  chromePath: '/usr/bin/chromium',
  chromeFlags: {},
  enableChromeSandbox: false,
  insecure: false,
  ffmpegPath: 'ffmpeg',
  startSignalTimeoutSec: 10,
  templateBase: 'http://127.0.0.1:1/templates/',
  liveKit: { wsUrl: '', apiKey: '', apiSecret: '' },
  urlPolicy: { allow: [], deny: [], denyPrivate: false },
  webrtcUdp: true,
  screenLimits: DEFAULT_LIMITS,
};

let egressCount = 0;

export interface PlanOptions {
  url: string;
  awaitStartSignal?: boolean;
  audio?: boolean;
  video?: boolean;
  fileType?: FileType;
  /** false: no file output (default true). */
  file?: boolean;
  width?: number;
  height?: number;
  keyFrameIntervalSec?: number;
  /** A local segments output of segments this long (default 4 s, LiveKit's). */
  segments?: { durationSec?: number };
  /** Local image outputs. */
  images?: { width: number; height: number; intervalSec: number }[];
  /** An RTMP stream output (URLs are the stream sinks' business). */
  stream?: boolean;
}

/**
 * A web egress plan with LiveKit's default encoding (H264_720P_30, AAC 128 kbps 44.1 kHz) and a local file,
 * plus the segments, images and stream outputs asked for.
 */
export function webPlan(options: PlanOptions): EgressPlan {
  const fileType = options.fileType ?? 'mp4';
  const images = (options.images ?? []).map((image, i): ImageOutputPlan => ({
    captureIntervalSec: image.intervalSec,
    width: image.width,
    height: image.height,
    filenamePrefix: `image${i}`,
    filenameSuffix: 'index',
    disableManifest: true,
    storage: { kind: 'service' },
  }));
  return {
    egressId: `EG_test${process.pid}x${++egressCount}`,
    requestKind: 'web',
    roomName: '',
    source: { kind: 'web', url: options.url, awaitStartSignal: options.awaitStartSignal ?? false },
    audio: options.audio ?? true,
    video: options.video ?? true,
    encoding: {
      width: options.width ?? 1280,
      height: options.height ?? 720,
      depth: 24,
      framerate: 30,
      videoProfile: 'main',
      videoBitrateKbps: 3000,
      audioCodec: fileType === 'ogg' ? 'opus' : 'aac',
      audioBitrateKbps: 128,
      audioFrequency: 44100,
      keyFrameIntervalSec: options.keyFrameIntervalSec ?? 0,
    },
    ...(options.file === false ? {} : { file: { fileType, filepath: `recording.${fileType}`, disableManifest: true, storage: { kind: 'service' } } }),
    ...(options.segments
      ? {
          segments: {
            filenamePrefix: 'segments/live',
            playlistName: 'live.m3u8',
            livePlaylistName: '',
            segmentDurationSec: options.segments.durationSec ?? 4,
            filenameSuffix: 'index',
            disableManifest: true,
            storage: { kind: 'service' },
          },
        }
      : {}),
    ...(options.stream ? { stream: { protocol: 'rtmp', redactedUrls: [] } } : {}),
    images,
    requestedAt: Date.now(),
  };
}
