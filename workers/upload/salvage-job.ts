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
import { ALL_FORMATS, FilePathSource, Input } from 'mediabunny';
import { execFile } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ServiceContext } from '../../shared/context.ts';
import type { SalvageJobData } from '../../shared/queues.ts';
import { WORKER_LOST_MARK } from '../../shared/worker-lost.ts';
import { FILE_CONTENT_TYPE } from '../../shared/encoding.ts';
import { fileOutputTarget } from '../output-paths.ts';
import { readCaptureInfo } from '../track/capture-info.ts';
import { isLastAttempt } from '../outputs/upload-options.ts';
import type { Delivery } from '../storage/delivery.ts';

const run = promisify(execFile);

export function salvageProcessor(ctx: ServiceContext, delivery: Delivery) {
  return async (job: Job<SalvageJobData>): Promise<string> => {
    const { egressId, plan } = job.data;
    const log = ctx.log.child({ egressId });
    const info = await ctx.events.store.get(egressId);
    if (!info || info.status !== EgressStatus.EGRESS_FAILED || !info.error.includes(WORKER_LOST_MARK)) return 'not a lost recorder';
    const workDir = join(ctx.config.tmp_dir, egressId);
    const capture = (await readdir(workDir).catch(() => [] as string[])).find((name) => /^capture\.(mp4|ogg|mp3|mkv|webm)$/.test(name));
    // Track egress: the file type follows the track's codec, and its name what the room told the recorder.
    const track = await readCaptureInfo(workDir);
    const fileType = track?.fileType ?? plan.file?.fileType;
    if (!capture || !plan.file || !fileType || fileType === 'auto') return 'nothing to salvage';
    const capturePath = join(workDir, capture);
    if ((await stat(capturePath)).size === 0) return 'nothing recorded';
    const target = fileOutputTarget(plan, ctx.config.storage.prefix, track ? { fileType, vars: track.namingVars } : {});
    const recovered = join(workDir, `recovered.${fileType}`);
    // A fragmented MP4 cut short is readable up to its last complete fragment, a streamable Matroska, WebM,
    // Ogg or MP3 up to its last complete frame: copy it into a normal file.
    await run(ctx.config.ffmpeg_path, ['-v', 'error', '-y', '-i', capturePath, '-c', 'copy', ...(fileType === 'mp4' ? ['-movflags', '+faststart'] : []), recovered]);
    const durationSec = await durationOf(recovered).catch((err: Error) => {
      log.warn({ err: err.message }, 'could not read the salvaged file\'s duration');
      return 0;
    });
    const delivered = await delivery.deliver({
      egressId,
      storage: target.storage,
      key: target.key,
      payload: { path: recovered },
      contentType: FILE_CONTENT_TYPE[fileType],
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

/** A media file's duration in seconds, read in-process (no ffprobe needed beside `ffmpeg_path`). */
async function durationOf(path: string): Promise<number> {
  const input = new Input({ source: new FilePathSource(path), formats: ALL_FORMATS });
  try {
    return await input.computeDuration();
  } finally {
    input.dispose();
  }
}
