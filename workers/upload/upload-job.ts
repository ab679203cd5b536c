/**
 * An upload job: one local file to its storage, with progress events (`job.updateProgress`, seen in Bull
 * Board and as QueueEvents `progress`). Retried with backoff by BullMQ; the local file stays until the
 * upload succeeded, and the last attempt may go to the backup storage (workers/storage/delivery.ts).
 */
import type { Job } from 'bullmq';
import type { UploadJobData, UploadResult } from '../../shared/queues.ts';
import type { ServiceContext } from '../../shared/context.ts';
import { isLastAttempt } from './upload-options.ts';
import type { Delivery } from '../storage/delivery.ts';

export interface UploadJobProgress {
  sentBytes: number;
  totalBytes: number;
}

/**
 * Progress events are Redis writes (and entries in the queue's capped event stream, where a flood would push
 * out `completed` and `failed`): at most one per PROGRESS_INTERVAL_MS, and always the last, (total, total).
 * The GCS client reports every 64 KiB read: 3200 calls for 200 MB.
 */
const PROGRESS_INTERVAL_MS = 500;

export function uploadProcessor(ctx: ServiceContext, delivery: Delivery) {
  return async (job: Job<UploadJobData, UploadResult>): Promise<UploadResult> => {
    const { egressId, storage, localPath, key, contentType, output } = job.data;
    const log = ctx.log.child({ egressId, output });
    let lastReportMs = 0;
    const onProgress = (sentBytes: number, totalBytes: number) => {
      const now = Date.now();
      if (sentBytes < totalBytes && now - lastReportMs < PROGRESS_INTERVAL_MS) return;
      lastReportMs = now;
      void job.updateProgress({ sentBytes, totalBytes } satisfies UploadJobProgress).catch(() => undefined);
    };
    const { location, sizeBytes, backup } = await delivery.deliver({
      egressId,
      storage,
      key,
      payload: { path: localPath },
      contentType,
      onProgress,
      lastAttempt: isLastAttempt(job),
    });
    log.info({ location, sizeBytes, backup, attempt: job.attemptsMade + 1 }, 'upload done');
    return { output, location, sizeBytes };
  };
}
