/**
 * The part of a recording this worker records: part 1 for an egress's first recording, part n ≥ 2 when it
 * takes over from a lost worker (the record job's `takeover`). It has its own working directory on the
 * shared tmp_dir (partWorkDir), is written to the part log at its first frame and renewed there while it
 * records, and knows how much the earlier parts recorded: what the session limits start from.
 */
import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { ServiceContext } from '../../shared/context.ts';
import { recordedBeforeSec } from '../../shared/takeover/part-gaps.ts';
import { PART_SEEN_INTERVAL_MS, partLogOf, type RecordedPart } from '../../shared/takeover/part-log.ts';
import { partWorkDir, type Takeover } from '../../shared/takeover/takeover.ts';
import type { Fence } from '../../shared/lease/fence.ts';
import { workDirSize, type PartsBefore } from '../recording/session-limits.ts';
import { earlierPartDirs } from './part-files.ts';

export interface RecordingPart {
  readonly number: number;
  /** Created; the part records into it and nowhere else. */
  readonly workDir: string;
  /** Set for a part after a takeover. */
  readonly takeover?: Takeover;
  /** The earlier parts that reached their first frame, in order. */
  readonly earlier: readonly RecordedPart[];
  /** What the earlier parts used of the session limits: the seconds they recorded, the bytes they wrote. */
  readonly before: PartsBefore;
  /** Its first frame (unix ms): in the part log from now on, renewed while it records. */
  started(startedAtMs: number): void;
  /** It is over: its last moment is logged. */
  ended(): Promise<void>;
}

export async function openPart(
  ctx: Pick<ServiceContext, 'redis' | 'config'> & { workerId: string },
  egressId: string,
  takeover: Takeover | undefined,
  log: Logger,
  fence?: Fence,
): Promise<RecordingPart> {
  const number = Math.max(1, takeover?.part ?? 1);
  const workDir = partWorkDir(ctx.config.tmp_dir, egressId, number);
  await mkdir(workDir, { recursive: true });
  // The owner's entries land only while it holds the egress's lease: a worker that lost it writes none.
  const parts = fence ? partLogOf(ctx).withFence(fence) : partLogOf(ctx);
  const earlier = number > 1 ? (await parts.list(egressId)).filter((p) => p.part < number) : [];
  let timer: NodeJS.Timeout | undefined;
  /** The part's entry, once written: its last renewal goes after it. */
  let logged: Promise<void> | undefined;
  const renew = () =>
    parts.seen(egressId, number, Date.now()).catch((err: Error) => log.warn({ err: err.message, part: number }, 'part not renewed in the part log'));
  return {
    number,
    workDir,
    ...(takeover ? { takeover } : {}),
    earlier,
    before: { recordedSec: recordedBeforeSec(earlier, number), writtenBytes: await writtenBefore(ctx.config.tmp_dir, egressId, earlier, number) },
    started: (at) => {
      logged = parts
        .started(egressId, { part: number, workerId: ctx.workerId, workDir, startedAtMs: at, ...(takeover ? { lostAtMs: takeover.lostAtMs } : {}) })
        .catch((err: Error) => log.warn({ err: err.message, part: number }, 'part not logged'));
      timer = setInterval(() => void renew(), PART_SEEN_INTERVAL_MS);
    },
    ended: async () => {
      clearInterval(timer);
      if (!logged) return;
      await logged;
      await renew();
    },
  };
}

/** Bytes the earlier parts' working directories hold (they change no more). */
async function writtenBefore(tmpDir: string, egressId: string, earlier: readonly RecordedPart[], part: number): Promise<number> {
  let total = 0;
  for (const { workDir } of earlierPartDirs(tmpDir, egressId, earlier, part)) total += await workDirSize(workDir).catch(() => 0);
  return total;
}
