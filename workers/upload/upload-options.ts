import type { JobsOptions, Job } from 'bullmq';
import { jobBackoff } from '../../shared/backoff.ts';
import type { Config } from '../../shared/config/schema.ts';

/**
 * Every upload (file, segment, image, playlist): retried with exponential backoff (`upload.attempts`,
 * `upload.backoff`); a final failure does not block its parent (the finalize job reports it).
 */
export function uploadJobOptions(config: Pick<Config, 'upload'>): JobsOptions {
  return { attempts: config.upload.attempts, backoff: jobBackoff(config.upload.backoff), ignoreDependencyOnFailure: true };
}

/** The job runs for the last time: a failure now is final (BullMQ counts failed attempts in attemptsMade). */
export const isLastAttempt = (job: Pick<Job, 'attemptsMade' | 'opts'>): boolean => job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
