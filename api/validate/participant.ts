/** ParticipantEgressRequest: one participant's camera and microphone (or screen share and its audio). */
import type { ParticipantEgressRequest } from '@livekit/protocol';
import { requireField, type ValidateContext } from './common.ts';
import { encodedPlan } from './encoded.ts';
import type { Validated } from './validated.ts';
import { collectV1Outputs } from './outputs/gather.ts';

export function validateParticipant(request: ParticipantEgressRequest, ctx: ValidateContext): Validated {
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
