/** RoomCompositeEgressRequest: a room through a layout template rendered in Chrome. */
import { AudioMixing, type RoomCompositeEgressRequest, type TemplateSource } from '@livekit/protocol';
import type { AudioMixingName } from '../../shared/egress-plan.ts';
import { invalidField } from '../../shared/errors.ts';
import { mediaFlags, requireField, requireHttpUrl, type SourceParts, type ValidateContext } from './common.ts';
import { encodedPlan } from './encoded.ts';
import type { Validated } from './validated.ts';
import { collectV1Outputs } from './outputs/gather.ts';

type TemplateFields = Pick<TemplateSource, 'layout' | 'audioOnly' | 'videoOnly' | 'customBaseUrl'>;

const AUDIO_MIXING: ReadonlyMap<AudioMixing, AudioMixingName> = new Map([
  [AudioMixing.DEFAULT_MIXING, 'default'],
  [AudioMixing.DUAL_CHANNEL_AGENT, 'dual_channel_agent'],
  [AudioMixing.DUAL_CHANNEL_ALTERNATE, 'dual_channel_alternate'],
]);

/** Shared with the v2 `template` source. No custom_base_url = our built-in templates (baseUrl ''). */
export function templateSource(template: TemplateFields, audioMixing = AudioMixing.DEFAULT_MIXING): SourceParts {
  const baseUrl = template.customBaseUrl === '' ? '' : requireHttpUrl(template.customBaseUrl, 'template base url');
  const flags = mediaFlags(template.audioOnly, template.videoOnly);
  const mixing = AUDIO_MIXING.get(audioMixing);
  if (!mixing) throw invalidField('audio_mixing');
  return { source: { kind: 'template', layout: template.layout, baseUrl, audioMixing: mixing }, ...flags };
}

export function validateRoomComposite(request: RoomCompositeEgressRequest, ctx: ValidateContext): Validated {
  const roomName = requireField(request.roomName, 'room_name');
  return encodedPlan(
    {
      requestKind: 'room_composite',
      roomName,
      ...templateSource(request, request.audioMixing),
      options: request.options,
      outputs: collectV1Outputs(request),
      allowWebsocket: false,
    },
    ctx,
  );
}
