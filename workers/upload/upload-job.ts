/**
 * An upload job: one local file to its storage, with progress events (`job.updateProgress`, seen in Bull
 * Board and as QueueEvents `progress`). Retried with backoff by BullMQ; the local file stays until the
 * upload succeeded.
 */
import type { Job } from 'bullmq';
import type { UploadJobData, UploadResult } from '../../shared/queues.ts';
import type { ServiceContext } from '../../shared/context.ts';
import { deliver } from '../storage/index.ts';

export interface UploadProgress {
  sentBytes: number;
  totalBytes: number;
}

export function uploadProcessor(ctx: ServiceContext) {
  return async (job: Job<UploadJobData, UploadResult>): Promise<UploadResult> => {
    const { egressId, storage, localPath, key, output } = job.data;
    const log = ctx.log.child({ egressId, output });
    const report = (sentBytes: number, totalBytes: number) => {
      void job.updateProgress({ sentBytes, totalBytes } satisfies UploadProgress).catch(() => undefined);
    };
    const { location, sizeBytes } = await deliver(ctx.config, storage, { path: localPath }, key, report);
    log.info({ location, sizeBytes }, 'upload done');
    return { output, location, sizeBytes };
  };
}
