/**
 * The end of an egress. Runs once every upload of the egress has finished (it is their parent in a
 * BullMQ flow, so it survives worker restarts); fills in the results and sets the terminal status.
 * A failed upload leaves its file on local disk and the egress FAILED with the upload error.
 */
import { EgressStatus, FileInfo, type EgressInfo } from '@livekit/protocol';
import type { Job } from 'bullmq';
import type { ServiceContext } from '../../shared/context.ts';
import { msToNanos } from '../../shared/ids.ts';
import type { FinalizeJobData, UploadResult } from '../../shared/queues.ts';

export function finalizeProcessor(ctx: ServiceContext) {
  return async (job: Job<FinalizeJobData>): Promise<void> => {
    const { egressId, file } = job.data;
    const uploads = Object.values(await job.getChildrenValues<UploadResult>());
    const failures = Object.values(await job.getIgnoredChildrenFailures());
    const fileUpload = uploads.find((u) => u.output === 'file');
    const fileInfo = file
      ? new FileInfo({
          filename: file.filename,
          startedAt: msToNanos(file.startedAtMs),
          endedAt: msToNanos(file.endedAtMs),
          duration: msToNanos(file.endedAtMs - file.startedAtMs),
          size: BigInt(fileUpload?.sizeBytes ?? file.sizeBytes),
          // Not delivered: the file is still where the recorder left it, and that is where to find it.
          location: fileUpload?.location ?? file.localPath,
        })
      : undefined;
    const fillResults = (info: EgressInfo) => {
      if (!fileInfo) return;
      info.fileResults = [fileInfo];
      if (info.streamResults.length === 0 && info.segmentResults.length === 0) info.result = { case: 'file', value: fileInfo };
    };
    if (failures.length > 0) {
      await ctx.events.end(egressId, { status: EgressStatus.EGRESS_FAILED, error: `upload failed: ${failures.join('; ')}`, errorCode: 400, reason: 'Failure' }, fillResults);
      return;
    }
    const status = job.data.status === 'limit_reached' ? EgressStatus.EGRESS_LIMIT_REACHED : EgressStatus.EGRESS_COMPLETE;
    await ctx.events.end(egressId, { status, reason: job.data.details, ...(status === EgressStatus.EGRESS_LIMIT_REACHED ? { error: 'Session limit reached' } : {}) }, fillResults);
  };
}
