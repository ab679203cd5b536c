/**
 * The contract between the egress runner and a recorder (web today; template, SDK and passthrough
 * sources later). A recorder owns every process it starts and ends them on every path.
 */
import type { Logger } from 'pino';
import type { EgressPlan } from '../../shared/egress-plan.ts';

export interface RecorderSettings {
  chromePath: string;
  chromeFlags: Record<string, string | boolean | number>;
  enableChromeSandbox: boolean;
  insecure: boolean;
  ffmpegPath: string;
  /** Seconds to wait for START_RECORDING when the plan awaits a start signal. */
  startSignalTimeoutSec: number;
}

export interface RecordingStart {
  plan: EgressPlan;
  /** A private, existing directory for this egress's working files; the recorder may write anything here. */
  workDir: string;
  /** Absolute local path the finished file must be at (its extension matches plan.file.fileType). */
  filePath: string;
  settings: RecorderSettings;
  log: Logger;
  /** Called once, when the first frame (or, audio-only, the first audio) has been captured. Unix ms. */
  onActive: (startedAtMs: number) => void;
}

export interface CaptureStats {
  /** Frames written to the output. */
  frames: number;
  /** Frames ffmpeg duplicated to keep the rate (capture fell behind). */
  duplicated: number;
  /** Frames ffmpeg dropped. */
  dropped: number;
}

export type RecordingEnd =
  /** StopEgress, a drain, or a limit: recorder was asked to stop. */
  | 'stopped'
  /** The page logged END_RECORDING. */
  | 'end_signal';

export interface RecordingResult {
  /** False when stopped before the first frame: nothing was recorded (the egress ends ABORTED). */
  started: boolean;
  end: RecordingEnd;
  startedAtMs: number;
  endedAtMs: number;
  /** The finished, playable file at RecordingStart.filePath, if the plan has a file output and it started. */
  file?: { path: string; sizeBytes: number };
  stats: CaptureStats;
}

export interface Recording {
  /** Settles when the recording is over and every process is gone. Rejects with an EgressError on failure. */
  readonly done: Promise<RecordingResult>;
  /** Ends gracefully: the file is finalized and playable. Idempotent. */
  stop(reason: string): void;
}

export type Recorder = (start: RecordingStart) => Recording;
