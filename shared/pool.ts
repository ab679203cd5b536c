/**
 * A worker pool: one BullMQ Worker on one queue with its concurrency cap. What every pool shares —
 * connection, prefix, logging of failures, and a close that lets running jobs finish.
 */
import { Worker, type Processor } from 'bullmq';
import type { Logger } from 'pino';
import type { LoadedConfig } from './config/load.ts';
import { bullConnection, bullPrefix, type JobDataOf, type QueueJob, type QueueName } from './queues.ts';

export interface PoolOptions {
  concurrency: number;
  /** Recordings hold their job for hours: a lost lock must be noticed quickly, a slow renewal must not kill them. */
  lockDuration?: number;
  /** How often a job stalled by a dead worker may go back to the queue. */
  maxStalledCount?: number;
}

/** Runs a queue's jobs; the processor gets them typed by the queue's job map (QueueJobs), narrowed by `job.name`. */
export function startPool<Q extends QueueName, R>(
  config: LoadedConfig,
  queue: Q,
  processor: (job: QueueJob<Q, R>, token?: string) => Promise<R>,
  options: PoolOptions,
  log: Logger,
): Worker<JobDataOf<Q>, R> {
  // BullMQ types a job's name and its data apart; the queue's typed `add` put the data that goes with each name.
  const worker = new Worker<JobDataOf<Q>, R>(queue, processor as Processor<JobDataOf<Q>, R>, {
    connection: bullConnection(config),
    prefix: bullPrefix(config),
    concurrency: options.concurrency,
    lockDuration: options.lockDuration ?? 30_000,
    maxStalledCount: options.maxStalledCount ?? 1,
    autorun: true,
  });
  worker.on('failed', (job, err) => log.warn({ queue, jobId: job?.id, attempts: job?.attemptsMade, err: err.message }, 'job failed'));
  worker.on('error', (err) => log.error({ queue, err: err.message }, 'worker error'));
  log.info({ queue, concurrency: options.concurrency }, 'pool started');
  return worker;
}
