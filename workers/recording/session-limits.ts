/**
 * `session_limits`: the shortest max duration among the outputs a plan has (LiveKit: min over present
 * outputs; 0 = unlimited; each output kind names its limit, workers/outputs/output-plugin.ts) and the egress's
 * own maximum (beyond LiveKit); the size of what a file recording wrote so far is checked against
 * file_output_max_size every 15 s. Limits count recorded time, from the first frame: they are armed then. A
 * part of a recording taken over by another worker (shared/takeover/) starts with what the earlier parts
 * left: the recorded time counts across parts, the gaps between them do not.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { LoadedConfig } from '../../shared/config/load.ts';
import type { EgressPlan } from '../../shared/egress-plan.ts';
import { outputPluginsOf } from '../outputs/output-kinds.ts';

export const SIZE_CHECK_INTERVAL_MS = 15_000;

export function maxDurationSec(plan: EgressPlan, limits: LoadedConfig['session_limits']): number {
  const present = [...outputPluginsOf(plan).map((plugin) => limits[plugin.maxDuration]), plan.maxDurationSec ?? 0].filter((limit) => limit > 0);
  return present.length ? Math.min(...present) : 0;
}

/** What the earlier parts of a recording taken over used of its limits. */
export interface PartsBefore {
  recordedSec: number;
  writtenBytes: number;
}

export interface LimitOptions {
  /** Seconds of recording allowed; 0 = unlimited. */
  limitSec: number;
  /** Seconds the earlier parts of the recording already used (a takeover); 0 for a first part. */
  recordedBeforeSec?: number;
  /** Bytes the earlier parts' working directories hold (a takeover): counted against the size limit. */
  writtenBeforeBytes?: number;
  /** Bytes the work directory may reach; 0 = unlimited. */
  sizeLimitBytes: number;
  workDir: string;
  /** Called once a limit is reached (again at each later size check that finds it reached). */
  onReached: () => void;
  sizeCheckIntervalMs?: number;
}

/** The limits of one recording: armed at its first frame, cleared when it is over. */
export class SessionLimits {
  private readonly options: LimitOptions;
  private readonly timers: NodeJS.Timeout[] = [];
  private limitReached = false;

  constructor(options: LimitOptions) {
    this.options = options;
  }

  /** The plan's limits under the worker's session_limits (the size limit only for a file output). */
  static of(
    plan: EgressPlan,
    limits: LoadedConfig['session_limits'],
    workDir: string,
    onReached: () => void,
    before: PartsBefore = { recordedSec: 0, writtenBytes: 0 },
  ): SessionLimits {
    return new SessionLimits({
      limitSec: maxDurationSec(plan, limits),
      recordedBeforeSec: before.recordedSec,
      writtenBeforeBytes: before.writtenBytes,
      sizeLimitBytes: plan.file ? limits.file_output_max_size : 0,
      workDir,
      onReached,
    });
  }

  get reached(): boolean {
    return this.limitReached;
  }

  /** Seconds this part may record: the limit less what the earlier parts recorded (0 = unlimited). */
  get leftSec(): number {
    const { limitSec, recordedBeforeSec = 0 } = this.options;
    return limitSec > 0 ? Math.max(0, limitSec - recordedBeforeSec) : 0;
  }

  arm(): void {
    const { limitSec, sizeLimitBytes } = this.options;
    if (limitSec > 0) this.timers.push(setTimeout(() => this.reach(), this.leftSec * 1000));
    if (sizeLimitBytes > 0) this.timers.push(setInterval(() => void this.checkSize(), this.options.sizeCheckIntervalMs ?? SIZE_CHECK_INTERVAL_MS));
  }

  clear(): void {
    this.timers.forEach(clearTimeout);
  }

  private reach(): void {
    this.limitReached = true;
    this.options.onReached();
  }

  /** LiveKit checks the size of what it wrote so far against file_output_max_size. */
  private async checkSize(): Promise<void> {
    const written = (this.options.writtenBeforeBytes ?? 0) + (await workDirSize(this.options.workDir));
    if (written >= this.options.sizeLimitBytes) this.reach();
  }
}

export async function workDirSize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name)).catch(() => ({ size: 0 }))).size;
  }
  return total;
}
