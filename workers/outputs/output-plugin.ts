/**
 * One output kind as a worker runs it (file, segments, stream, images, websocket; the registry is
 * output-kinds.ts): whether a plan has it, the session limit that bounds it, what the recorder is given for
 * it, what it does while the recording runs, and at the end its share of the finalize job — its results,
 * its uploads and where the manifest may go beside it — and, in the finalize job, its part of EgressInfo's
 * results and of the manifest. The session and the finalize job only ever talk to this interface.
 */
import type { EgressInfo } from '@livekit/protocol';
import type { FlowJob, Job } from 'bullmq';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../../shared/config/load.ts';
import type { ServiceContext } from '../../shared/context.ts';
import type { EgressPlan } from '../../shared/egress-plan.ts';
import type { FinalizeJobData, FinalizeResults, UploadResult } from '../../shared/queues.ts';
import type { RecordingOutputs, RecordingResult } from '../recording/recorder-contract.ts';
import type { Delivery } from '../storage/delivery.ts';
import type { RecordingPart } from '../takeover/recording-part.ts';
import type { StreamsStopped } from '../streams/stream-fanout.ts';
import type { DeliveredUpload } from '../upload/finalize-results.ts';
import type { buildManifest } from './manifest.ts';
import type { OutputTarget } from './output-paths.ts';

/** The `session_limits` entry that bounds an output kind's duration (LiveKit's per-output limits). */
export type DurationLimit = keyof Pick<
  LoadedConfig['session_limits'],
  'file_output_max_duration' | 'stream_output_max_duration' | 'segment_output_max_duration' | 'image_output_max_duration'
>;

export interface OutputOpening {
  ctx: ServiceContext;
  plan: EgressPlan;
  /** The egress's private working directory (the recorder writes its outputs under it): this part's (partWorkDir). */
  workDir: string;
  log: Logger;
  /** The part of the recording this is; after a takeover (part ≥ 2) the outputs go on from where the earlier parts stopped. */
  part?: RecordingPart;
}

/** A job the finalize job waits for (an upload), as BullMQ's flows take it. */
export type FlowChild = NonNullable<FlowJob['children']>[number];

/** What one output adds to the finalize job. */
export interface FinalizePart {
  /** Its results under its kind (FinalizeJobData is keyed by kind), filled into EgressInfo once the uploads are done. */
  data: Partial<FinalizeResults>;
  /** Its uploads, children of the finalize job (which waits for every one). */
  uploads: FlowChild[];
  /** A key `<egress_id>.json` may go beside, unless its request disabled the manifest. */
  manifestBeside?: OutputTarget;
}

/** `Wiring`: this kind's entry of RecordingStart.outputs, under its kind. */
export interface RunningOutput<Wiring = RecordingOutputs> {
  /** What the recorder is given for it (RecordingStart.outputs, this kind's entry). */
  readonly wiring: Wiring;
  /** A live output (the streams): settles when every URL has stopped while recording. */
  readonly allStopped?: Promise<StreamsStopped>;
  /** UpdateStream: brings it in line with what the API recorded. */
  updateStream?(): Promise<void>;
  /** Ends whatever it runs, once the recording is over, on every path. */
  close?(): Promise<void>;
  /** After a recording that started, once the egress is ENDING: its share of the finalize job. */
  finish?(result: RecordingResult): Promise<FinalizePart>;
}

/** The manifest's lists (files, playlists, images): each kind gives its share. */
export type ManifestOutputs = Parameters<typeof buildManifest>[2];

/** What the finalize job has at hand for every kind once no upload is pending. */
export interface FinalizeInput {
  ctx: ServiceContext;
  delivery: Delivery;
  job: Job<FinalizeJobData>;
  /** What the finalize job's children (uploads queued at the end of the recording) returned. */
  children: readonly UploadResult[];
  /** The uploads made while recording that were delivered. */
  delivered: readonly DeliveredUpload[];
}

/** One kind's part of the end: its EgressInfo results, the deprecated single result it may be, its manifest lists. */
export interface FinalizedOutput {
  fill(info: EgressInfo): void;
  /** EgressInfo.result when this is the request's only output kind (file, segments); unset: never the single one. */
  single?: EgressInfo['result'];
  manifest?: ManifestOutputs;
}

/** The finalize job's side of a kind, for its entry `Results` of FinalizeJobData. */
export interface OutputFinalizer<Results> {
  /** This kind's entry of the job data, if the recording reported one. */
  resultsIn(data: Partial<FinalizeResults>): Results | undefined;
  /** Job ids of the uploads it made while recording: the finalize job waits for them and reports their failures. */
  uploadsWhileRecording?(egressId: string, results: Results): string[];
  finalize(input: FinalizeInput, results: Results): Promise<FinalizedOutput>;
}

/**
 * `Kind` names it (its key in RecordingStart.outputs and FinalizeJobData), `Entry` is what the recorder gets
 * for it (`{ <kind>?: <its wiring> }`; unnamed, as the session holds every kind: the whole collection) and
 * `Results` what the finalize job gets from it. A kind's module declares itself with OutputPluginOf; the
 * registry (output-kinds.ts) derives RecordingOutputs from these.
 */
export interface OutputPlugin<Kind extends string = string, Entry extends object = RecordingOutputs, Results = unknown> {
  readonly kind: Kind;
  inPlan(plan: EgressPlan): boolean;
  readonly maxDuration: DurationLimit;
  /** Live outputs (streams) end an egress that records nothing else when the last of them stops. */
  readonly live: boolean;
  open(opening: OutputOpening): Promise<RunningOutput<Entry>>;
  /** Kinds that leave results for the finalize job. */
  readonly finalizer?: OutputFinalizer<Results>;
}

/** The plugin of one kind: its name, its wiring (under its name in RecordingStart.outputs) and its results. */
export type OutputPluginOf<Kind extends string, Wiring, Results = unknown> = OutputPlugin<Kind, { [K in Kind]?: Wiring }, Results>;
