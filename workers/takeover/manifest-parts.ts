/**
 * The parts and gaps the manifest of a recording taken over lists (workers/outputs/manifest.ts), from the
 * part log, each part's end measured where its file says how much it holds.
 */
import type { ServiceContext } from '../../shared/context.ts';
import { partEndMs, partGaps, type MeasuredSec } from '../../shared/takeover/part-gaps.ts';
import { partLogOf } from '../../shared/takeover/part-log.ts';
import { manifestTakeover, type Manifest } from '../outputs/manifest.ts';

/** Nothing for a recording of one part. `measured`: each part's seconds in the delivered file, when known. */
export async function manifestParts(
  ctx: Pick<ServiceContext, 'redis' | 'config'>,
  egressId: string,
  measured: MeasuredSec = new Map(),
): Promise<Pick<Manifest, 'parts' | 'gaps'>> {
  const parts = await partLogOf(ctx).list(egressId);
  return manifestTakeover(parts, partGaps(parts, measured), (part) => partEndMs(part, measured));
}
