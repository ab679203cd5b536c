/** Which LiveKit cpu_cost a plan falls under, and the pools' kinds. */
import type { Config } from '../../shared/config/schema.ts';
import type { EgressPlan, RecordPoolName } from '../../shared/egress-plan.ts';

export type CostKind = 'room_composite' | 'audio_room_composite' | 'web' | 'audio_web' | 'participant' | 'track_composite' | 'track';

export function costKindOf(plan: Pick<EgressPlan, 'source' | 'video'>): CostKind {
  switch (plan.source.kind) {
    case 'web':
      return plan.video ? 'web' : 'audio_web';
    case 'template':
      return plan.video ? 'room_composite' : 'audio_room_composite';
    case 'participant':
      return 'participant';
    case 'track_composite':
      return 'track_composite';
    case 'track':
      return 'track';
  }
}

/** The kinds each pool records: a pool is judged by its most expensive one (the next job may be any). */
export const POOL_KINDS: Record<RecordPoolName, CostKind[]> = {
  'room-composite': ['web', 'audio_web', 'room_composite', 'audio_room_composite'],
  'track-composite': ['participant', 'track_composite'],
  track: ['track'],
};

export function configuredCost(config: Pick<Config, 'cpu_cost'>, kind: CostKind): number {
  return config.cpu_cost[`${kind}_cpu_cost`];
}
