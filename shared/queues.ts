/**
 * Queue names, job data types and the Queue handles every process shares. Job data never holds secrets:
 * Bull Board shows it.
 */
import { FlowProducer, Queue, type BulkJobOptions, type ConnectionOptions, type Job, type JobsOptions } from 'bullmq';
import type { Config, PoolName } from './config/schema.ts';
import type { EgressPlan, RecordPoolName, RequestKind, StorageTarget } from './egress-plan.ts';
import type { NamingVars } from './naming.ts';
import { redisOptions } from './redis.ts';
import { redisKeys, RETENTION_SEC } from './redis-keys.ts';
import type { Takeover } from './takeover/takeover.ts';

export type RecordQueueName = RecordPoolName;
export const RECORD_QUEUES: readonly RecordQueueName[] = ['room-composite', 'track-composite', 'track'];
/** Start deadlines and other timed chores; run by the API process. */
export const HOUSEKEEPING_QUEUE = 'housekeeping';
export type QueueName = PoolName | typeof HOUSEKEEPING_QUEUE;
export const ALL_QUEUES: readonly QueueName[] = [...RECORD_QUEUES, 'upload', 'webhook', HOUSEKEEPING_QUEUE];

/**
 * A recording job. Its job id is the egress id, so one egress can never be queued or run twice; a takeover's
 * part has its own (shared/takeover/takeover.ts), and the egress's lease keeps it to one recorder at a time.
 */
export interface RecordJobData {
  plan: EgressPlan;
  /** Set when this job resumes an egress whose worker was lost. */
  takeover?: Takeover;
}

/** One local file to deliver to storage. Job name: `upload`. */
export interface UploadJobData {
  egressId: string;
  /** Which result this is. */
  output: 'file' | 'segment' | 'image';
  localPath: string;
  /** Destination key, relative to the storage's root (prefix already applied). */
  key: string;
  contentType: string;
  storage: StorageTarget;
  /** Images: when it was captured, for the manifest. */
  capturedAtMs?: number;
}

export interface UploadResult {
  output: UploadJobData['output'];
  location: string;
  sizeBytes: number;
}

/**
 * The HLS playlists as of segment `upTo`, rendered from the segment log (shared/segment-log.ts) when the
 * job runs. Job name: `playlist`; the parent of that segment's upload, so a playlist never names a
 * segment that is not in storage yet.
 */
export interface PlaylistJobData {
  egressId: string;
  upTo: number;
  segmentDurationSec: number;
  storage: StorageTarget;
  /** Keys of the playlists to write; `main` is left out between its throttled updates. */
  mainKey?: string;
  liveKey?: string;
}

/**
 * What each output kind leaves the finalize job, by kind: an open map, each kind's module adds its entry
 * (`declare module` in workers/outputs/<kind>-output.ts), so a new kind needs no edit here.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled by declaration merging, as above
export interface FinalizeResults {}

/**
 * Ends an egress once all its uploads are done. Job name: `finalize`; parent of the upload jobs. The kinds'
 * results are top-level keys (`file`, `segments`, `images`, as jobs queued before the map existed have them):
 * job data already in Redis reads as it is.
 */
export interface FinalizeJobData extends Partial<FinalizeResults> {
  egressId: string;
  plan: EgressPlan;
  /** Where `<egress_id>.json` goes (beside the outputs), unless the request disabled the manifest. */
  manifest?: { key: string; storage: StorageTarget };
  /** Terminal status if every upload succeeds (COMPLETE, LIMIT_REACHED, or FAILED: a recording that failed after it started, its file delivered). */
  status: 'complete' | 'limit_reached' | 'failed';
  details: string;
  /** With status `failed`: why (the EgressInfo error and error code). */
  error?: { message: string; code: number };
  /** What the recorder learnt in the room (a track egress: its publisher, kind and source), for the manifest. */
  learnt?: Partial<NamingVars>;
}

/** Deterministic job ids, so a finalize job can find every upload of its egress after a restart. */
export const uploadJobId = {
  file: (egressId: string) => `upload-${egressId}-file`,
  segment: (egressId: string, index: number) => `upload-${egressId}-seg-${index}`,
  playlist: (egressId: string, upTo: number) => `playlist-${egressId}-${upTo}`,
  image: (egressId: string, outputIndex: number, index: number) => `upload-${egressId}-img-${outputIndex}-${index}`,
  finalize: (egressId: string) => `finalize-${egressId}`,
  salvage: (egressId: string) => `salvage-${egressId}`,
};

/**
 * What a dead recorder left in its working directory, delivered after the egress ended FAILED (shared/
 * worker-lost.ts). Job name: `salvage`.
 */
export interface SalvageJobData {
  egressId: string;
  plan: EgressPlan;
}

/**
 * One webhook delivery. The destination is named by reference, never by its URL (a webhook URL's userinfo
 * and query are credentials, and Bull Board shows job data): the config's `webhook.urls[index]` or the
 * request's `webhooks[index]`, sealed beside the record (shared/webhook-targets.ts).
 */
export interface WebhookJobData {
  egressId: string;
  event: 'egress_started' | 'egress_updated' | 'egress_ended';
  target: { source: 'config' | 'request'; index: number };
  /** The destination as it may be shown: userinfo, query values and fragment hidden. */
  url: string;
  /** The WebhookEvent, as JSON, exactly as it will be posted. */
  body: string;
}

export interface StartDeadlineJobData {
  egressId: string;
  queue: RecordQueueName;
}

/** The reaper's scan, from a job scheduler: no data. */
export type ReapJobData = Record<string, never>;

/** A record queue's jobs are named by the request's kind (`plan.requestKind`). */
export type RecordJobs = { [K in RequestKind]: RecordJobData };

/** The upload queue runs four kinds of job, told apart by name. */
export interface UploadJobs {
  upload: UploadJobData;
  playlist: PlaylistJobData;
  finalize: FinalizeJobData;
  salvage: SalvageJobData;
}

/** A webhook job is named by its event. */
export type WebhookJobs = { [E in WebhookJobData['event']]: WebhookJobData };

/** The housekeeping queue runs two kinds of job, told apart by name: an egress's start deadline, and the reaper's scan. */
export interface HousekeepingJobs {
  'start-deadline': StartDeadlineJobData;
  reap: ReapJobData;
}

/** Each queue's job names, and the data a job of that name carries. */
export interface QueueJobs {
  'room-composite': RecordJobs;
  'track-composite': RecordJobs;
  track: RecordJobs;
  upload: UploadJobs;
  webhook: WebhookJobs;
  housekeeping: HousekeepingJobs;
}

export type JobNameOf<Q extends QueueName> = keyof QueueJobs[Q] & string;
export type JobDataOf<Q extends QueueName> = QueueJobs[Q][JobNameOf<Q>];

/** A job of queue `Q`: its name says which data it carries (narrow on `job.name`). */
export type QueueJob<Q extends QueueName, R = unknown> = { [N in JobNameOf<Q>]: Job<QueueJobs[Q][N], R, N> }[JobNameOf<Q>];

/**
 * A Queue handle whose `add` and `addBulk` check a job's data against its name, and whose `getJob` says
 * which jobs the queue holds. (The data is still read back from Redis: a processor of jobs that may come
 * from another version checks their shape itself.) The methods not re-declared here (getJobs, getWaiting, …)
 * keep BullMQ's untyped job data.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- BullMQ's own Queue methods, as above
export interface TypedQueue<Q extends QueueName> extends Queue<any, unknown, string> {
  add<N extends JobNameOf<Q>>(name: N, data: QueueJobs[Q][N], opts?: JobsOptions): Promise<Job<QueueJobs[Q][N], unknown, N>>;
  addBulk(jobs: { [N in JobNameOf<Q>]: { name: N; data: QueueJobs[Q][N]; opts?: BulkJobOptions } }[JobNameOf<Q>][]): Promise<QueueJob<Q>[]>;
  getJob(jobId: string): Promise<QueueJob<Q> | undefined>;
}

export type HousekeepingJob = QueueJob<typeof HOUSEKEEPING_QUEUE, string>;
export type HousekeepingJobName = JobNameOf<typeof HOUSEKEEPING_QUEUE>;
export type HousekeepingJobData = JobDataOf<typeof HOUSEKEEPING_QUEUE>;

export const STOP_BEFORE_START = 'Stop called before pipeline could start';

export function bullConnection(config: Pick<Config, 'redis'>): ConnectionOptions {
  // BullMQ declares its own structural copy of ioredis's options; the values are the same object.
  return redisOptions(config) as ConnectionOptions;
}

export function bullPrefix(config: Pick<Config, 'redis'>): string {
  return redisKeys.bull(config.redis.prefix);
}

const COMMON_JOB_OPTIONS: JobsOptions = {
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  removeOnFail: { age: RETENTION_SEC },
};

/** The Queue handles of one process, created on first use and closed together. */
export class Queues {
  private readonly queues = new Map<QueueName, Queue>();
  private flow: FlowProducer | undefined;
  private readonly config: Pick<Config, 'redis'>;
  private readonly onError: (err: Error) => void;

  /** `onError` hears connection errors (a Redis outage), which BullMQ would otherwise print to the console. */
  constructor(config: Pick<Config, 'redis'>, onError: (err: Error) => void = () => undefined) {
    this.config = config;
    this.onError = onError;
  }

  get<Q extends QueueName>(name: Q): TypedQueue<Q> {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, {
        connection: bullConnection(this.config),
        prefix: bullPrefix(this.config),
        defaultJobOptions: COMMON_JOB_OPTIONS,
      });
      queue.on('error', this.onError);
      this.queues.set(name, queue);
    }
    // One handle per name, created above for this name: its jobs are that queue's (QueueJobs[Q]).
    return queue as TypedQueue<Q>;
  }

  flows(): FlowProducer {
    if (!this.flow) {
      this.flow = new FlowProducer({ connection: bullConnection(this.config), prefix: bullPrefix(this.config) });
      this.flow.on('error', this.onError);
    }
    return this.flow;
  }

  all(): Queue[] {
    return ALL_QUEUES.map((name): Queue => this.get(name));
  }

  /** Closes every handle. `force` drops the connections instead of waiting for Redis to answer QUIT. */
  async close(force = false): Promise<void> {
    if (force) await Promise.all([...this.queues.values()].map((q) => q.getBackend().close(true)));
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    await this.flow?.close();
    this.queues.clear();
    this.flow = undefined;
  }
}
