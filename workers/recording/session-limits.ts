/**
 * `session_limits`: the shortest max duration among the outputs a plan has (LiveKit: min over present
 * outputs; 0 = unlimited) and the egress's own maximum (beyond LiveKit); the file size limit is checked
 * every 15 s.
 */
import type { LoadedConfig } from '../../shared/config/load.ts';
import type { EgressPlan } from '../../shared/egress-plan.ts';

export const SIZE_CHECK_INTERVAL_MS = 15_000;

export function maxDurationSec(plan: EgressPlan, limits: LoadedConfig['session_limits']): number {
  const present = [
    plan.file ? limits.file_output_max_duration : 0,
    plan.stream ? limits.stream_output_max_duration : 0,
    plan.segments ? limits.segment_output_max_duration : 0,
    plan.images.length ? limits.image_output_max_duration : 0,
    plan.maxDurationSec ?? 0,
  ].filter((limit) => limit > 0);
  return present.length ? Math.min(...present) : 0;
}
