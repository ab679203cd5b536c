/**
 * The upload queue carries four kinds of job, each with its processor. A job's name is data from Redis, so the
 * processor is found in a Map, not on an object: a job named `constructor` or `__proto__` finds nothing and
 * fails for good instead of calling something inherited.
 */
import { UnrecoverableError, type Job } from 'bullmq';
import type { QueueJob, UploadJobs } from '../../shared/queues.ts';

/** One processor per upload job name. */
export type UploadProcessors = { [N in keyof UploadJobs]: (job: Job<UploadJobs[N]>, token?: string) => Promise<unknown> };

type UploadProcessor = (job: QueueJob<'upload'>, token?: string) => Promise<unknown>;

/** The upload pool's processor: the job goes to the processor of its name; an unknown name is unrecoverable. */
export function uploadDispatcher(processors: UploadProcessors): UploadProcessor {
  // Each processor is filed under its own name, so a job found under a name carries that name's data.
  const table = new Map<string, UploadProcessor>(
    (Object.keys(processors) as (keyof UploadJobs)[]).map((name) => [name, processors[name] as UploadProcessor]),
  );
  return (job, token) => {
    const processor = table.get(job.name);
    if (!processor) throw new UnrecoverableError(`unknown upload job ${(job as Job).name}`);
    return processor(job, token);
  };
}
