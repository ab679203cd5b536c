import type { JobsOptions } from 'bullmq';

/** Every upload: retried with exponential backoff; a final failure does not block its parent (it is reported). */
export const UPLOAD_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 1000 },
  ignoreDependencyOnFailure: true,
};
