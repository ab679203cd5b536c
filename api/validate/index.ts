/**
 * Request validation: a Start request in, the plan a worker runs out, or an EgressError (invalid_argument
 * naming the field, as LiveKit's `request has missing or invalid field: <field>`). Pure: no I/O, no clock.
 */
import {
  ParticipantEgressRequest,
  RoomCompositeEgressRequest,
  StartEgressRequest,
  TrackCompositeEgressRequest,
  TrackEgressRequest,
  WebEgressRequest,
} from '@livekit/protocol';
import type { EgressPlan } from '../../shared/egress-plan.ts';
import { invalidField } from '../../shared/errors.ts';
import type { ValidateContext } from './common.ts';
import { validateParticipant } from './participant.ts';
import { validateRoomComposite } from './room-composite.ts';
import { validateStartEgress } from './start-egress.ts';
import { validateTrackComposite } from './track-composite.ts';
import { validateTrack } from './track.ts';
import { validateWeb } from './web.ts';

export type { ValidateContext } from './common.ts';

export type AnyStartRequest =
  | RoomCompositeEgressRequest
  | WebEgressRequest
  | ParticipantEgressRequest
  | TrackCompositeEgressRequest
  | TrackEgressRequest
  | StartEgressRequest;

export function validateRequest(request: AnyStartRequest, ctx: ValidateContext): EgressPlan {
  if (!ctx.egressId) throw invalidField('egressID');
  if (request instanceof RoomCompositeEgressRequest) return validateRoomComposite(request, ctx);
  if (request instanceof WebEgressRequest) return validateWeb(request, ctx);
  if (request instanceof ParticipantEgressRequest) return validateParticipant(request, ctx);
  if (request instanceof TrackCompositeEgressRequest) return validateTrackComposite(request, ctx);
  if (request instanceof TrackEgressRequest) return validateTrack(request, ctx);
  if (request instanceof StartEgressRequest) return validateStartEgress(request, ctx);
  throw invalidField('request');
}
