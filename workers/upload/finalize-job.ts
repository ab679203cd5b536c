/**
 * The end of an egress. Runs once every upload of the egress has finished (it is their parent in a
 * BullMQ flow, so it survives worker restarts); fills in the results and sets the terminal status.
 * A failed upload leaves its file on local disk and the egress FAILED with the upload error.
 */
import { EgressStatus, FileInfo, type EgressInfo } from '@livekit/protocol';
import type { Job } from 'bullmq';
import type { ServiceContext } from '../../shared/context.ts';
import { msToNanos, nowNanos } from '../../shared/ids.ts';
import { buildManifest } from '../manifest.ts';
import { deliver } from '../storage/index.ts';
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
    const manifestLocation = job.data.manifest && (await deliverManifest(ctx, job.data, fileInfo));
    const status = job.data.status === 'limit_reached' ? EgressStatus.EGRESS_LIMIT_REACHED : EgressStatus.EGRESS_COMPLETE;
    await ctx.events.end(egressId, { status, reason: job.data.details, ...(status === EgressStatus.EGRESS_LIMIT_REACHED ? { error: 'Session limit reached' } : {}) }, (info) => {
      fillResults(info);
      if (manifestLocation) info.manifestLocation = manifestLocation;
    });
  };
}

/** The manifest goes last: it lists where everything else landed. */
async function deliverManifest(ctx: ServiceContext, data: FinalizeJobData, file: FileInfo | undefined): Promise<string> {
  const { manifest, plan } = data;
  const info = await ctx.events.store.get(data.egressId);
  const body = buildManifest(
    plan,
    { startedAtNs: info?.startedAt ?? 0n, endedAtNs: nowNanos() },
    { files: file ? [{ filename: file.filename, location: file.location }] : [] },
  );
  const delivered = await deliver(ctx.config, manifest!.storage, { text: `${JSON.stringify(body, null, 2)}\n` }, manifest!.key);
  return delivered.location;
}
