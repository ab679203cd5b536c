/**
 * Where the numbered outputs of a recording stand when a later part takes it over, so that the new part
 * numbers on and no name is ever used twice: the HLS segments from the segment log (the next segment's
 * number, and the totals SegmentsInfo reports), each image output from what the earlier parts queued for
 * upload (ImagesInfo's count, moved past any upload job that already holds the next number: a worker killed
 * between queueing an image and counting it).
 */
import type { ServiceContext } from '../../shared/context.ts';
import { uploadJobId } from '../../shared/queues.ts';
import type { LoggedSegment } from '../../shared/segment-log.ts';

/** The HLS output as the earlier parts left it. */
export interface ResumedSegments {
  /** Segments logged so far: the number of this part's first segment. */
  count: number;
  durationSec: number;
  sizeBytes: number;
  /** Unix ms of the recording's first segment, and of the end of the last one (0 when none). */
  startedAtMs: number;
  endedAtMs: number;
  /** The last segment logged: its upload may not have been queued (a worker killed between the two). */
  last?: LoggedSegment;
}

export async function resumedSegments(ctx: Pick<ServiceContext, 'segments'>, egressId: string): Promise<ResumedSegments> {
  const logged = await ctx.segments.list(egressId);
  const last = logged.at(-1);
  return {
    count: logged.length,
    durationSec: logged.reduce((sum, s) => sum + s.durationSec, 0),
    sizeBytes: logged.reduce((sum, s) => sum + s.sizeBytes, 0),
    startedAtMs: logged[0]?.startedAtMs ?? 0,
    endedAtMs: last ? last.startedAtMs + last.durationSec * 1000 : 0,
    ...(last ? { last } : {}),
  };
}

/** One image output as the earlier parts left it. */
export interface ResumedImages {
  /** Images queued so far: the number of this part's first image. */
  count: number;
  startedAtMs: number;
  endedAtMs: number;
}

/** Every image output of the plan, in order. */
export async function resumedImages(ctx: Pick<ServiceContext, 'events' | 'queues'>, egressId: string, outputs: number): Promise<ResumedImages[]> {
  const info = await ctx.events.store.get(egressId);
  const uploads = ctx.queues.get('upload');
  const resumed: ResumedImages[] = [];
  for (let outputIndex = 0; outputIndex < outputs; outputIndex++) {
    const stored = info?.imageResults[outputIndex];
    let count = Number(stored?.imageCount ?? 0n);
    while (await uploads.getJob(uploadJobId.image(egressId, outputIndex, count))) count += 1;
    resumed.push({
      count,
      startedAtMs: Number((stored?.startedAt ?? 0n) / 1_000_000n),
      endedAtMs: Number((stored?.endedAt ?? 0n) / 1_000_000n),
    });
  }
  return resumed;
}
