/** WebEgressRequest: record any http(s) page in Chrome, no room involved (LiveKit names its files `web-…`). */
import type { WebEgressRequest, WebSource } from '@livekit/protocol';
import { mediaFlags, requireHttpUrl, type SourceParts, type ValidateContext } from './common.ts';
import { encodedPlan } from './encoded.ts';
import type { Validated } from './validated.ts';
import { collectV1Outputs } from './outputs/gather.ts';

type WebFields = Pick<WebSource, 'url' | 'audioOnly' | 'videoOnly' | 'awaitStartSignal'>;

/** Shared with the v2 `web` source. */
export function webSource(web: WebFields): SourceParts {
  const url = requireHttpUrl(web.url, 'web url');
  return { source: { kind: 'web', url, awaitStartSignal: web.awaitStartSignal }, ...mediaFlags(web.audioOnly, web.videoOnly) };
}

export function validateWeb(request: WebEgressRequest, ctx: ValidateContext): Validated {
  return encodedPlan(
    { requestKind: 'web', roomName: '', ...webSource(request), options: request.options, outputs: collectV1Outputs(request), allowWebsocket: false },
    ctx,
  );
}
