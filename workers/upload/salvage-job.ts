/**
 * Salvage: the recorder of an egress died (shared/worker-lost.ts ended it FAILED). What it had written is in
 * its working directory on the shared tmp_dir, recorded crash-safe (fragmented MP4, Ogg, MP3; a track
 * egress: append-only Matroska for H.264, WebM, Ogg, with capture.json saying what file it becomes and its
 * naming variables): made into a normal file (remuxed, no re-encode; an MP4 with its index up front),
 * delivered like any file, and the egress's file result amended with its location, size and duration.
 * Segments and images went to storage as they closed already.
 */
import { EgressStatus, FileInfo } from '@livekit/protocol';
import type { Job } from 'bullmq';
import { join } from 'node:path';
import type { ServiceContext } from '../../shared/context.ts';
import type { SalvageJobData } from '../../shared/queues.ts';
import { WORKER_LOST_MARK } from '../../shared/worker-lost.ts';
import { FILE_CONTENT_TYPE } from '../../shared/encoding.ts';
import { isLastAttempt } from './upload-options.ts';
import type { Delivery } from '../storage/delivery.ts';
import { recoverCapture } from './recover-capture.ts';

export function salvageProcessor(ctx: ServiceContext, delivery: Delivery) {
  return async (job: Job<SalvageJobData>): Promise<string> => {
    const { egressId, plan } = job.data;
    const log = ctx.log.child({ egressId });
    const info = await ctx.events.store.get(egressId);
    if (!info || info.status !== EgressStatus.EGRESS_FAILED || !info.error.includes(WORKER_LOST_MARK)) return 'not a lost recorder';
    const recovered = await recoverCapture(ctx.config, plan, join(ctx.config.tmp_dir, egressId), log);
    if (typeof recovered === 'string') return recovered;
    const { target, durationSec } = recovered;
    const delivered = await delivery.deliver({
      egressId,
      storage: target.storage,
      key: target.key,
      payload: { path: recovered.path },
      contentType: FILE_CONTENT_TYPE[recovered.fileType],
      lastAttempt: isLastAttempt(job),
    });
    await ctx.events.store.amendEnded(egressId, (ended) => {
      const startedAt = ended.startedAt;
      const file = new FileInfo({
        filename: target.key,
        startedAt,
        endedAt: startedAt + BigInt(Math.round(durationSec * 1e9)),
        duration: BigInt(Math.round(durationSec * 1e9)),
        size: BigInt(delivered.sizeBytes),
        location: delivered.location,
      });
      ended.fileResults = [file];
      if (ended.segmentResults.length === 0 && ended.streamResults.length === 0) ended.result = { case: 'file', value: file };
    });
    log.info({ location: delivered.location, durationSec, sizeBytes: delivered.sizeBytes }, 'salvaged the recording of a lost recorder');
    return `salvaged ${durationSec.toFixed(1)} s`;
  };
}
