/**
 * The gaps of a recording that changed workers, and the time it recorded across its parts: what the
 * manifest lists, and what a new part's session limits start from. A part's end is its first frame plus
 * what it really holds when that is known (the file's duration of that part), else when it was last seen
 * recording (shared/takeover/part-log.ts: at most PART_SEEN_INTERVAL_MS short of the truth).
 */
import type { RecordedPart } from './part-log.ts';

export interface PartGap {
  /** The gap falls between this part and the next. */
  afterPart: number;
  /** Unix ms the earlier part's recording ends. */
  fromMs: number;
  /** Unix ms of the next part's first frame. */
  toMs: number;
  seconds: number;
}

/** A part's recorded seconds when measured (e.g. its file's duration), by part number. */
export type MeasuredSec = ReadonlyMap<number, number>;

/** Unix ms a part's recording ends. */
export function partEndMs(part: RecordedPart, measured: MeasuredSec = new Map()): number {
  const sec = measured.get(part.part);
  return sec === undefined ? part.lastSeenAtMs : part.startedAtMs + Math.round(sec * 1000);
}

/** The gaps between consecutive parts, in order (none for a recording of one part). */
export function partGaps(parts: readonly RecordedPart[], measured: MeasuredSec = new Map()): PartGap[] {
  const gaps: PartGap[] = [];
  for (let i = 1; i < parts.length; i++) {
    const before = parts[i - 1]!;
    const fromMs = Math.min(partEndMs(before, measured), parts[i]!.startedAtMs);
    const toMs = parts[i]!.startedAtMs;
    gaps.push({ afterPart: before.part, fromMs, toMs, seconds: (toMs - fromMs) / 1000 });
  }
  return gaps;
}

/** Seconds recorded by the parts before part `part`: the time a session limit has already used up. */
export function recordedBeforeSec(parts: readonly RecordedPart[], part: number, measured: MeasuredSec = new Map()): number {
  return parts.filter((p) => p.part < part).reduce((sum, p) => sum + Math.max(0, partEndMs(p, measured) - p.startedAtMs) / 1000, 0);
}
