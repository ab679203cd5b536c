/**
 * Which recorder runs a plan, or why none can yet. A request this version cannot record ends FAILED with
 * a clear reason at once, never silently and never after a recording that could not be delivered.
 */
import type { EgressPlan } from '../shared/egress-plan.ts';
import { EgressError } from '../shared/errors.ts';
import type { Recorder } from './media/recording.ts';
import { recordWeb } from './media/web-recorder.ts';

const notYet = (what: string) => new EgressError('EGR_ERR_NOT_SUPPORTED', `${what} not supported by this version of egress-queue yet`);

const SOURCE_NAMES: Record<EgressPlan['source']['kind'], string> = {
  web: 'web egress is',
  template: 'room composite egress is',
  participant: 'participant egress is',
  track_composite: 'track composite egress is',
  track: 'track egress is',
};

export function recorderFor(plan: EgressPlan): Recorder {
  if (plan.source.kind !== 'web' && plan.source.kind !== 'template') throw notYet(SOURCE_NAMES[plan.source.kind]);
  if (plan.stream?.protocol === 'websocket') throw notYet('WebSocket stream outputs of web egress are');
  return recordWeb;
}
