/** ParticipantEgressRequest: one participant's camera and microphone (or screen share and its audio). */
import type { ParticipantEgressRequest } from '@livekit/protocol';
import type { EgressPlan } from '../../shared/egress-plan.ts';
import { requireField, type ValidateContext } from './common.ts';
import { encodedPlan } from './encoded.ts';
import { collectV1Outputs } from './outputs.ts';

export function validateParticipant(request: ParticipantEgressRequest, ctx: ValidateContext): EgressPlan {
  const roomName = requireField(request.roomName, 'room_name');
  const identity = requireField(request.identity, 'identity');
  return encodedPlan(
    {
      requestKind: 'participant',
      roomName,
      source: { kind: 'participant', identity, screenShare: request.screenShare },
      audio: true,
      video: true,
      options: request.options,
      outputs: collectV1Outputs(request),
      allowWebsocket: false,
    },
    ctx,
  );
}
