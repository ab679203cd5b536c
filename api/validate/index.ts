/**
 * Request validation: a Start request in; out, in one pass, the plan a worker runs, the secrets it needs and
 * the request as EgressInfo shows it (redacted), or an EgressError (invalid_argument naming the field, as
 * LiveKit's `request has missing or invalid field: <field>`). Pure: no I/O, no clock.
 */
import {
  ParticipantEgressRequest,
  RoomCompositeEgressRequest,
  StartEgressRequest,
  TrackCompositeEgressRequest,
  TrackEgressRequest,
  WebEgressRequest,
  type EgressInfo,
} from '@livekit/protocol';
import { invalidField } from '../../shared/errors.ts';
import { redactRequest } from '../../shared/redact.ts';
import { checkStringLengths } from './string-lengths.ts';
import type { ValidateContext } from './common.ts';
import { validateParticipant } from './participant.ts';
import { validateRoomComposite } from './room-composite.ts';
import { validateStartEgress } from './start-egress.ts';
import { validateTrackComposite } from './track-composite.ts';
import { validateTrack } from './track.ts';
import { invalidUrl, protocolOfUrl, resolveStreamUrl, type ResolvedStreamUrl, type StreamProtocolName } from './stream-url.ts';
import type { Validated } from './validated.ts';
import { validateWeb } from './web.ts';

export type { ValidateContext } from './common.ts';

export type AnyStartRequest =
  RoomCompositeEgressRequest | WebEgressRequest | ParticipantEgressRequest | TrackCompositeEgressRequest | TrackEgressRequest | StartEgressRequest;

/** A valid request: its plan and secrets, and the request itself (secrets redacted) for EgressInfo.request. */
export interface ValidatedRequest extends Validated {
  request: EgressInfo['request'];
}

export function validateRequest(request: AnyStartRequest, ctx: ValidateContext): ValidatedRequest {
  if (!ctx.egressId) throw invalidField('egressID');
  // Sizes first: no rule below should have to parse a megabyte-long URL.
  checkStringLengths(request, ctx.limits);
  if (request instanceof RoomCompositeEgressRequest)
    return { ...validateRoomComposite(request, ctx), request: { case: 'roomComposite', value: redactRequest(request) } };
  if (request instanceof WebEgressRequest) return { ...validateWeb(request, ctx), request: { case: 'web', value: redactRequest(request) } };
  if (request instanceof ParticipantEgressRequest)
    return { ...validateParticipant(request, ctx), request: { case: 'participant', value: redactRequest(request) } };
  if (request instanceof TrackCompositeEgressRequest)
    return { ...validateTrackComposite(request, ctx), request: { case: 'trackComposite', value: redactRequest(request) } };
  if (request instanceof TrackEgressRequest) return { ...validateTrack(request, ctx), request: { case: 'track', value: redactRequest(request) } };
  if (request instanceof StartEgressRequest)
    return { ...validateStartEgress(request, ctx), request: { case: 'egress', value: redactRequest(request) } };
  throw invalidField('request');
}

/** A URL given to UpdateStream, checked against the egress's stream protocol. */
export function updateStreamTarget(url: string, protocol: StreamProtocolName): ResolvedStreamUrl {
  const own = protocolOfUrl(url);
  if (own !== protocol) throw invalidUrl(url, 'invalid scheme');
  return resolveStreamUrl(url, own);
}
