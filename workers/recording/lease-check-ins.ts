/**
 * What this worker process tells its group watchdog about the recording leases it holds (issue 16): each lease's
 * deadline (its last confirmed renewal + TTL − safety margin), and the soonest of them as the check-in. A process
 * frozen past that deadline cannot stop its recordings itself; the watchdog then kills them
 * (workers/process/group-watchdog.sh), before Redis can grant those egresses to another worker.
 */
import { checkInLeases } from '../process/group-watchdog.ts';

/** Egress id → until when (performance.now()) its lease counts as held. */
const deadlines = new Map<string, number>();

/** A renewal of `egressId`'s lease was confirmed: it is held until `until` (performance.now()). */
export function leaseValidUntil(egressId: string, until: number): void {
  deadlines.set(egressId, Math.max(until, deadlines.get(egressId) ?? 0));
  report();
}

/** The lease on `egressId` is no longer held (released, lost). */
export function leaseDropped(egressId: string): void {
  if (deadlines.delete(egressId)) report();
}

function report(): void {
  if (deadlines.size === 0) return checkInLeases(undefined);
  checkInLeases(Math.min(...deadlines.values()) - performance.now());
}
