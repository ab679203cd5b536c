/**
 * The upload pool: file uploads, playlists, finalize and salvage jobs, one queue, dispatched by job name
 * (upload-dispatch.ts). A finalize job that keeps failing still ends its egress: never left ENDING forever.
 */
import type { Worker } from 'bullmq';
import type { LoadedConfig } from '../../shared/config/load.ts';
import type { Logger } from '../../shared/logger.ts';
import { startPool } from '../../shared/pool.ts';
import { endFailed } from '../end-failed.ts';
import type { Delivery } from '../storage/delivery.ts';
import type { WorkerContext } from '../worker-context.ts';
import { finalizeProcessor } from './finalize-job.ts';
import { playlistProcessor } from './playlist-job.ts';
import { salvageProcessor } from './salvage-job.ts';
import { uploadDispatcher } from './upload-dispatch.ts';
import { uploadProcessor } from './upload-job.ts';

export function startUploadPool(ctx: WorkerContext, config: LoadedConfig, delivery: Delivery, log: Logger): Worker {
  const dispatch = uploadDispatcher({
    upload: uploadProcessor(ctx, delivery),
    playlist: playlistProcessor(ctx, delivery),
    finalize: finalizeProcessor(ctx, delivery),
    salvage: salvageProcessor(ctx, delivery),
  });
  const uploads = startPool(config, 'upload', dispatch, { concurrency: config.concurrency.upload }, log);
  uploads.on('failed', (job, err) => {
    if (job?.name !== 'finalize' || job.attemptsMade < (job.opts.attempts ?? 1)) return;
    void endFailed(ctx, job.data.egressId, `could not finalize the egress: ${err.message}`);
  });
  return uploads;
}
