/** Plans and recorder settings for tests and benchmarks that run a recorder directly, without the API. */
import type { EgressPlan, FileType } from '../../shared/egress-plan.ts';
import type { RecorderSettings } from '../../workers/media/recording.ts';

export const TEST_RECORDER_SETTINGS: RecorderSettings = {
  chromePath: '/usr/bin/chromium',
  chromeFlags: {},
  enableChromeSandbox: false,
  insecure: false,
  ffmpegPath: 'ffmpeg',
  startSignalTimeoutSec: 10,
};

let egressCount = 0;

export interface PlanOptions {
  url: string;
  awaitStartSignal?: boolean;
  audio?: boolean;
  video?: boolean;
  fileType?: FileType;
  width?: number;
  height?: number;
}

/** A web egress plan with LiveKit's default encoding (H264_720P_30, AAC 128 kbps 44.1 kHz) and a local file. */
export function webPlan(options: PlanOptions): EgressPlan {
  const fileType = options.fileType ?? 'mp4';
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
      keyFrameIntervalSec: 0,
    },
    file: { fileType, filepath: `recording.${fileType}`, disableManifest: true, storage: { kind: 'local' } },
    images: [],
    requestedAt: Date.now(),
  };
}
