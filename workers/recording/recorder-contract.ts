/**
 * The contract between the egress runner and a recorder (web, SDK, track and passthrough; workers/recording/recorder-choice.ts
 * picks one). A recorder owns every process it starts and ends them on every path.
 */
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { EgressPlan, FileType } from '../../shared/egress-plan.ts';
import type { EgressError } from '../../shared/errors.ts';
import type { NamingVars } from '../../shared/naming.ts';
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
 * Required when plan.file: the absolute local path the finished file must be at (its extension matches
 * plan.file.fileType). Track egress: the container follows the track's codec whatever the plan says; the
 * recorder writes it here and reports its type in RecordingResult.file.fileType.
 */
export interface FileWiring {
  path: string;
}

/**
 * Required when plan.segments: the directory (created if missing) the MPEG-TS segments are written to, under
 * names of the recorder's choosing; each is announced through onSegment once closed, in order (the last one at
 * stop). An announced segment is complete and the recorder no longer touches it: the caller may rename,
 * upload or delete it.
 */
export interface SegmentsWiring {
  dir: string;
  onSegment: (segment: SegmentReport) => void;
}

/**
 * Required when plan.images is not empty: one directory per plan.images entry, in the same order; each image,
 * per output in order, is announced through onImage as soon as it is complete (the caller may then move or
 * delete it).
 */
export interface ImagesWiring {
  dirs: string[];
  onImage: (image: ImageReport) => void;
}

/**
 * When plan.stream is RTMP/SRT: onStream is called once, when the encode starts, with the H.264/AAC encode as
 * an MPEG-TS byte stream; it ends when the encode does. Read it in flowing mode: the recorder never waits for
 * it, and drops data it would have to hold beyond a bound (a warning says so). Without it, no stream is made.
 */
export interface StreamWiring {
  onStream: (ts: Readable) => void;
}

/** Track egress with a WebSocket output: the real URL (from the sealed secrets, never in job data). */
export interface WebsocketWiring {
  url: string;
}

/** The outputs of one recording, by kind: a typed collection, never indexed by a caller's string. */
export interface RecordingOutputs {
  file?: FileWiring;
  segments?: SegmentsWiring;
  stream?: StreamWiring;
  images?: ImagesWiring;
  websocket?: WebsocketWiring;
}

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
