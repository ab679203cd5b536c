/**
 * Which recorder runs a plan, or why none can yet. A request this version cannot record ends FAILED with
 * a clear reason at once, never silently and never after a recording that could not be delivered.
 */
import type { EgressPlan } from '../../shared/egress-plan.ts';
import { EgressError } from '../../shared/errors.ts';
import type { Recorder } from './recorder-contract.ts';
import { recordWeb } from '../web/web-recorder.ts';
import { recordTrack } from '../track/track-recorder.ts';
import { recordSdk } from '../sdk/sdk-recorder.ts';

const notYet = (what: string) => new EgressError('EGR_ERR_NOT_SUPPORTED', `${what} not supported by this version of egress-queue yet`);

export function recorderFor(plan: EgressPlan): Recorder {
  switch (plan.source.kind) {
    case 'web':
      if (plan.stream?.protocol === 'websocket') throw notYet('WebSocket stream outputs of web egress are');
      return recordWeb;
    case 'template':
      if (plan.stream?.protocol === 'websocket') throw notYet('WebSocket stream outputs of room composite egress are');
      // Audio only from the built-in templates: LiveKit records the room's audio without Chrome.
      return !plan.video && !plan.source.baseUrl ? recordSdk : recordWeb;
    case 'participant':
    case 'track_composite':
      if (plan.stream?.protocol === 'websocket') throw notYet('WebSocket stream outputs of participant and track composite egress are');
      return recordSdk;
    case 'track':
      return recordTrack;
  }
}

/** Whether the plan's recorder runs inside the worker process (the SDK and track recorders) rather than in Chromium. */
export function recordsInProcess(plan: EgressPlan): boolean {
  try {
    return recorderFor(plan) !== recordWeb;
  } catch {
    return false;
  }
}
