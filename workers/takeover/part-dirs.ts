/**
 * The working directories of every part of a recording (partWorkDir on the shared tmp_dir), removed together
 * once everything is delivered: the last part's finalize removes the earlier parts' captures too.
 */
import { rm } from 'node:fs/promises';
import type { ServiceContext } from '../../shared/context.ts';
import { partLogOf } from '../../shared/takeover/part-log.ts';
import { partWorkDir } from '../../shared/takeover/takeover.ts';

export async function removePartDirs(ctx: Pick<ServiceContext, 'redis' | 'config'>, egressId: string): Promise<void> {
  const parts = await partLogOf(ctx).list(egressId);
  const last = Math.max(1, ...parts.map((p) => p.part));
  const dirs = new Set([...parts.map((p) => p.workDir), ...Array.from({ length: last }, (_, i) => partWorkDir(ctx.config.tmp_dir, egressId, i + 1))]);
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
}
