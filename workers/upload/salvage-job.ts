/**
 * Salvage: the recorder of an egress died (shared/worker-lost.ts ended it FAILED). What it had written is in
 * its working directory on the shared tmp_dir, recorded crash-safe (fragmented MP4, Ogg, MP3; a track
 * egress: append-only Matroska for H.264, WebM, Ogg, with capture.json saying what file it becomes and its
 * naming variables): made into a normal file (remuxed, no re-encode; an MP4 with its index up front),
 * delivered like any file, and the egress's file result amended with its location, size and duration.
 * A recording taken over before (shared/takeover/) left a directory per part: every part is recovered and
 * the parts joined into one file (workers/takeover/part-files.ts), or delivered each on its own with a
 * `_part<n>` suffix when they cannot be joined. Segments and images went to storage as they closed already.
 */
import { EgressStatus, FileInfo } from '@livekit/protocol';
import type { Job } from 'bullmq';
import { join } from 'node:path';
import type { ServiceContext } from '../../shared/context.ts';
import type { SalvageJobData } from '../../shared/queues.ts';
import { partLogOf } from '../../shared/takeover/part-log.ts';
import { WORKER_LOST_MARK } from '../../shared/worker-lost.ts';
import { FILE_CONTENT_TYPE } from '../../shared/encoding.ts';
import { earlierPartDirs, joinedParts, keptApartNote, partKey, recoveredParts, type PartFile } from '../takeover/part-files.ts';
import { isLastAttempt } from './upload-options.ts';
import type { Delivery } from '../storage/delivery.ts';

export function salvageProcessor(ctx: ServiceContext, delivery: Delivery) {
  return async (job: Job<SalvageJobData>): Promise<string> => {
    const { egressId, plan } = job.data;
    const log = ctx.log.child({ egressId });
    const info = await ctx.events.store.get(egressId);
    if (!info || info.status !== EgressStatus.EGRESS_FAILED || !info.error.includes(WORKER_LOST_MARK)) return 'not a lost recorder';
    const logged = await partLogOf(ctx).list(egressId);
    const lastPart = Math.max(1, ...logged.map((p) => p.part));
    const dirs = earlierPartDirs(ctx.config.tmp_dir, egressId, logged, lastPart + 1);
    const { files, target, fileType } = await recoveredParts(ctx.config, plan, dirs, log);
    if (!target || !fileType || files.length === 0) return 'nothing to salvage';
    const outcome = await joinedParts(ctx.config.ffmpeg_path, files, fileType, join(dirs.at(-1)!.workDir, `salvaged.${fileType}`), log);
    const deliveries = outcome.joined
      ? [{ key: target.key, file: { part: 1, path: outcome.path, durationSec: outcome.durationSec } }]
      : outcome.parts.map((file) => ({ key: partKey(target.key, file.part), file }));
    const results: FileInfo[] = [];
    for (const { key, file } of deliveries) {
      const delivered = await delivery.deliver({
        egressId,
        storage: target.storage,
        key,
        payload: { path: file.path },
        contentType: FILE_CONTENT_TYPE[fileType],
        lastAttempt: isLastAttempt(job),
      });
      results.push(fileInfoOf(key, file, delivered, startOf(file, logged, info.startedAt)));
    }
    // Parts that could not be joined: the egress's error says why its file comes in parts.
    const apartNote = outcome.joined ? undefined : keptApartNote(outcome);
    await ctx.events.store.amendEnded(
      egressId,
      (ended) => {
        ended.fileResults = results;
        if (results.length === 1 && ended.segmentResults.length === 0 && ended.streamResults.length === 0)
          ended.result = { case: 'file', value: results[0]! };
      },
      apartNote,
    );
    const durationSec = results.reduce((sum, r) => sum + Number(r.duration) / 1e9, 0);
    if (apartNote) log.warn({ note: apartNote }, 'salvaged the parts apart');
    log.info({ parts: files.length, durationSec, locations: results.map((r) => r.location) }, 'salvaged the recording of a lost recorder');
    return `salvaged ${durationSec.toFixed(1)} s${files.length > 1 ? ` from ${files.length} parts${outcome.joined ? '' : ', kept apart'}` : ''}`;
  };
}

/** Unix ns a delivered file starts: its part's first frame when logged, else the egress's start. */
function startOf(file: PartFile, logged: readonly { part: number; startedAtMs: number }[], egressStartNs: bigint): bigint {
  const part = logged.find((p) => p.part === file.part);
  return part ? BigInt(part.startedAtMs) * 1_000_000n : egressStartNs;
}

function fileInfoOf(key: string, file: PartFile, delivered: { location: string; sizeBytes: number }, startedAt: bigint): FileInfo {
  const duration = BigInt(Math.round(file.durationSec * 1e9));
  return new FileInfo({
    filename: key,
    startedAt,
    endedAt: startedAt + duration,
    duration,
    size: BigInt(delivered.sizeBytes),
    location: delivered.location,
  });
}
