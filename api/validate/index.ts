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
import { sealStream, type EgressSecrets } from '../../shared/egress-secrets.ts';
import { invalidField } from '../../shared/errors.ts';
import { checkStringLengths } from './string-lengths.ts';
import type { ValidateContext } from './common.ts';
import { checkStream, collectV1Outputs, collectV2Outputs, sealUploads, type UploadChoice } from './outputs.ts';
import { validateParticipant } from './participant.ts';
import { validateRoomComposite } from './room-composite.ts';
import { validateStartEgress } from './start-egress.ts';
import { validateTrackComposite } from './track-composite.ts';
import { validateTrack } from './track.ts';
import { invalidUrl, protocolOfUrl, resolveStreamUrl, type ResolvedStreamUrl, type StreamProtocolName } from './stream-url.ts';
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
  // Sizes first: no rule below should have to parse a megabyte-long URL.
  checkStringLengths(request, ctx.limits);
  if (request instanceof RoomCompositeEgressRequest) return validateRoomComposite(request, ctx);
  if (request instanceof WebEgressRequest) return validateWeb(request, ctx);
  if (request instanceof ParticipantEgressRequest) return validateParticipant(request, ctx);
  if (request instanceof TrackCompositeEgressRequest) return validateTrackComposite(request, ctx);
  if (request instanceof TrackEgressRequest) return validateTrack(request, ctx);
  if (request instanceof StartEgressRequest) return validateStartEgress(request, ctx);
  throw invalidField('request');
}

/**
 * The secrets of a validated request that its worker needs: the real stream URLs (keys included, rebuilt
 * from their checked parts, each with its identity), in request order, and the request's upload configs
 * (credentials included), by ref. They go to the sealed secret store, never into the plan.
 */
export function secretsOf(request: AnyStartRequest, plan: EgressPlan): EgressSecrets {
  let targets: ResolvedStreamUrl[];
  let uploads: UploadChoice[];
  if (request instanceof TrackEgressRequest) {
    targets = request.output.case === 'websocketUrl' ? [resolveStreamUrl(request.output.value, 'websocket')] : [];
    uploads = request.output.case === 'file' ? [request.output.value.output] : [];
  } else {
    const outputs = request instanceof StartEgressRequest ? collectV2Outputs(request) : collectV1Outputs(request);
    targets = outputs.streams.flatMap((stream) => checkStream(stream, true).targets);
    uploads = [...outputs.files, ...outputs.segments, ...outputs.images].map((o) => o.upload);
  }
  // The same URL twice is one stream (LiveKit keys its streams by URL).
  const unique = targets.filter((t, i) => targets.findIndex((other) => other.id === t.id) === i);
  return {
    ...(plan.stream ? { streamProtocol: plan.stream.protocol } : {}),
    streams: unique.map(sealStream),
    uploads: sealUploads(uploads),
  };
}

/** A URL given to UpdateStream, checked against the egress's stream protocol. */
export function updateStreamTarget(url: string, protocol: StreamProtocolName): ResolvedStreamUrl {
  const own = protocolOfUrl(url);
  if (own !== protocol) throw invalidUrl(url, 'invalid scheme');
  return resolveStreamUrl(url, own);
}
