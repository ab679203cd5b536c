/**
 * One output kind as a worker runs it (file, segments, stream, images, websocket; the registry is
 * output-kinds.ts): whether a plan has it, the session limit that bounds it, what the recorder is given for
 * it, what it does while the recording runs, and at the end its share of the finalize job — its results,
 * its uploads and where the manifest may go beside it. The session only ever talks to this interface.
 */
import type { FlowJob } from 'bullmq';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../../shared/config/load.ts';
import type { ServiceContext } from '../../shared/context.ts';
import type { EgressPlan } from '../../shared/egress-plan.ts';
import type { FinalizeJobData } from '../../shared/queues.ts';
import type { OutputKind, RecordingOutputs, RecordingResult } from '../recording/recorder-contract.ts';
import type { StreamsStopped } from '../streams/stream-fanout.ts';
import type { OutputTarget } from './output-paths.ts';

/** The `session_limits` entry that bounds an output kind's duration (LiveKit's per-output limits). */
export type DurationLimit = keyof Pick<
  LoadedConfig['session_limits'],
  'file_output_max_duration' | 'stream_output_max_duration' | 'segment_output_max_duration' | 'image_output_max_duration'
>;

export interface OutputOpening {
  ctx: ServiceContext;
  plan: EgressPlan;
  /** The egress's private working directory (the recorder writes its outputs under it). */
  workDir: string;
  log: Logger;
}

/** A job the finalize job waits for (an upload), as BullMQ's flows take it. */
export type FlowChild = NonNullable<FlowJob['children']>[number];

/** What one output adds to the finalize job. */
export interface FinalizePart {
  /** Its results, filled into EgressInfo by the finalize job once the uploads are done. */
  data: Pick<FinalizeJobData, 'file' | 'segments' | 'images'>;
  /** Its uploads, children of the finalize job (which waits for every one). */
  uploads: FlowChild[];
  /** A key `<egress_id>.json` may go beside, unless its request disabled the manifest. */
  manifestBeside?: OutputTarget;
}

export interface RunningOutput {
  /** What the recorder is given for it (RecordingStart.outputs, this kind's entry). */
  readonly wiring: RecordingOutputs;
  /** A live output (the streams): settles when every URL has stopped while recording. */
  readonly allStopped?: Promise<StreamsStopped>;
  /** UpdateStream: brings it in line with what the API recorded. */
  updateStream?(): Promise<void>;
  /** Ends whatever it runs, once the recording is over, on every path. */
  close?(): Promise<void>;
  /** After a recording that started, once the egress is ENDING: its share of the finalize job. */
  finish?(result: RecordingResult): Promise<FinalizePart>;
}

export interface OutputPlugin {
  readonly kind: OutputKind;
  inPlan(plan: EgressPlan): boolean;
  readonly maxDuration: DurationLimit;
  /** Live outputs (streams) end an egress that records nothing else when the last of them stops. */
  readonly live: boolean;
  open(opening: OutputOpening): Promise<RunningOutput>;
}
