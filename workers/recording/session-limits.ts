/**
 * `session_limits`: the shortest max duration among the outputs a plan has (LiveKit: min over present
 * outputs; 0 = unlimited; each output kind names its limit, workers/outputs/output-plugin.ts) and the egress's
 * own maximum (beyond LiveKit); the size of what a file recording wrote so far is checked against
 * file_output_max_size every 15 s. Limits count recorded time, from the first frame: they are armed then.
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

export interface LimitOptions {
  /** Seconds of recording allowed; 0 = unlimited. */
  limitSec: number;
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
  static of(plan: EgressPlan, limits: LoadedConfig['session_limits'], workDir: string, onReached: () => void): SessionLimits {
    return new SessionLimits({
      limitSec: maxDurationSec(plan, limits),
      sizeLimitBytes: plan.file ? limits.file_output_max_size : 0,
      workDir,
      onReached,
    });
  }

  get reached(): boolean {
    return this.limitReached;
  }

  arm(): void {
    const { limitSec, sizeLimitBytes } = this.options;
    if (limitSec > 0) this.timers.push(setTimeout(() => this.reach(), limitSec * 1000));
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
    const written = await workDirSize(this.options.workDir);
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
