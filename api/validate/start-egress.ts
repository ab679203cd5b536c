/**
 * v2 StartEgressRequest: one of three sources (template, web, media), the `encoding` oneof, and a list of
 * outputs each with optional storage. Template and web follow their v1 rules; media maps onto participant
 * or track composite (media.ts); the PASSTHROUGH preset is a remux.
 */
import { EncodingOptionsPreset, type StartEgressRequest } from '@livekit/protocol';
import { invalidField } from '../../shared/errors.ts';
import { requireField, type SourceParts, type ValidateContext } from './common.ts';
import { encodedPlan } from './encoded.ts';
import type { Validated } from './validated.ts';
import { mediaSource, validatePassthrough } from './media.ts';
import { collectV2Outputs } from './outputs/gather.ts';
import { templateSource } from './room-composite.ts';
import { webSource } from './web.ts';

function sourceOf(request: StartEgressRequest): SourceParts {
  switch (request.source.case) {
    case 'template':
      requireField(request.roomName, 'room_name');
      return templateSource(request.source.value);
    case 'web':
      return webSource(request.source.value);
    case 'media':
      requireField(request.roomName, 'room_name');
      return mediaSource(request.source.value);
    default:
      throw invalidField('source');
  }
}

export function validateStartEgress(request: StartEgressRequest, ctx: ValidateContext): Validated {
  if (request.encoding.case === 'preset' && request.encoding.value === EncodingOptionsPreset.PASSTHROUGH) return validatePassthrough(request, ctx);
  return encodedPlan(
    {
      requestKind: 'egress',
      roomName: request.roomName,
      ...sourceOf(request),
      options: request.encoding,
      outputs: collectV2Outputs(request),
      allowWebsocket: true,
    },
    ctx,
  );
}
