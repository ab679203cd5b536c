/**
 * A recording taken over by another worker after its own was lost (killed, node lost, partitioned from Redis,
 * frozen): the egress goes back to its pool's queue as a new part of the same recording, and the worker that
 * picks it up records on from where the last part stopped, into a working directory of the part's own. What
 * both halves of a takeover (the requeue and the outputs across the gap) agree on.
 */
import { join } from 'node:path';

/** What a record job carries when it resumes an egress rather than starts it. */
export interface Takeover {
  /** This part's number: 2 for the first takeover, and so on. Part 1 is the egress's first recording. */
  part: number;
  /** When the previous part's owner was found lost (its lease lapsed), unix ms. */
  lostAtMs: number;
}

/**
 * The working directory of one part of a recording on the shared `tmp_dir`. Part 1 keeps the directory an
 * egress always had (what the salvage and a restart read); later parts sit beside it, never inside it, so no
 * part's clean-up can remove another's capture.
 */
export function partWorkDir(tmpDir: string, egressId: string, part = 1): string {
  return part <= 1 ? join(tmpDir, egressId) : join(tmpDir, `${egressId}.part-${part}`);
}

/** The record job id of a part: the egress id for part 1 (one egress is never queued twice), then `<id>.part-<n>`. */
export function partJobId(egressId: string, part = 1): string {
  return part <= 1 ? egressId : `${egressId}.part-${part}`;
}
