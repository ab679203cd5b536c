/**
 * The contract between the egress runner and a recorder (web, SDK, track and passthrough; workers/recording/recorder-choice.ts
 * picks one). A recorder owns every process it starts and ends them on every path.
 */
import type { Logger } from 'pino';
import type { EgressPlan, FileType } from '../../shared/egress-plan.ts';
import type { EgressError } from '../../shared/errors.ts';
import type { NamingVars } from '../../shared/naming.ts';
import type { RegisteredOutputs } from '../outputs/output-kinds.ts';
import type { RecorderSettings } from './recorder-settings.ts';
import type { StationSource } from '../web/warm-pool.ts';

export type { RecorderSettings } from './recorder-settings.ts';

export interface RecordingStart {
  plan: EgressPlan;
  /** A private, existing directory for this egress's working files; the recorder may write anything here. */
  workDir: string;
  /**
   * Where each output of the plan goes and who hears of what it writes, by kind (one entry per kind the plan
   * has; workers/outputs/output-kinds.ts opens them).
   */
  outputs: RecordingOutputs;
  settings: RecorderSettings;
  log: Logger;
  /**
   * Called once, when the first frame (or, audio-only, the first audio) has been captured: Unix ms of that
   * frame, and the room's sid (`room_id`) when the recorder learnt it in the room.
   */
  onActive: (startedAtMs: number, roomId?: string) => void;
  /** Page recorders: ready displays, sinks and browsers of this worker process (warm-pool.ts); without, every start is cold. */
  warmPool?: StationSource;
}

/**
 * The outputs of one recording, by kind: a typed collection, never indexed by a caller's string. Derived from
 * the registry (workers/outputs/output-kinds.ts): each kind's wiring, and what it promises, is in its module.
 */
export type RecordingOutputs = RegisteredOutputs;

export type OutputKind = keyof RecordingOutputs;

export interface SegmentReport {
  /** The closed segment, in RecordingStart.outputs.segments.dir. */
  path: string;
  /** 0 for the first segment of the recording. */
  index: number;
  /** Unix ms (wall clock) of the segment's first frame. */
  startedAtMs: number;
  durationSec: number;
  sizeBytes: number;
}

export interface ImageReport {
  /** Which plan.images entry (and RecordingStart.outputs.images.dirs entry) it belongs to. */
  outputIndex: number;
  /** The complete JPEG, in outputs.images.dirs[outputIndex]. */
  path: string;
  /** 0 for the first image of its output. */
  index: number;
  /** Unix ms (wall clock) the frame shown was captured. */
  capturedAtMs: number;
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
  /**
   * The finished, playable file at RecordingStart.outputs.file.path, if the plan has a file output and it started.
   * `fileType`: the container chosen from the track's codec (track egress), which names the stored file.
   */
  file?: { path: string; sizeBytes: number; fileType?: FileType };
  /** Naming variables learnt in the room ({room_id}, {publisher_identity}, {track_type}, {track_source}). */
  namingVars?: Partial<NamingVars>;
  stats: CaptureStats;
  /**
   * The recording failed after it had started (a room recorder whose room connection was lost), yet `file` holds
   * what was recorded until then, finalized: it is delivered, and the egress ends FAILED with this error.
   */
  failure?: EgressError;
}

export interface Recording {
  /**
   * Settles when the recording is over and every process is gone. Rejects with an EgressError on failure,
   * unless a file recorded until the failure is delivered all the same (RecordingResult.failure).
   * Every onSegment and onImage call of a recording that ends gracefully happens before it resolves.
   */
  readonly done: Promise<RecordingResult>;
  /** Ends gracefully: the file is finalized and playable. Idempotent. */
  stop(reason: string): void;
}

export type Recorder = (start: RecordingStart) => Recording;
