/**
 * The stream output of a request (StreamOutput): at most one, at most `max_stream_urls` URLs, its protocol
 * (named, or the first URL's scheme), each URL resolved (the real one is a secret, the plan keeps the redacted
 * one); WebSocket only where allowed, and then no video. An empty one only makes sense next to other outputs.
 */
import { StreamProtocol, type StreamOutput } from '@livekit/protocol';
import type { StreamOutputPlan } from '../../../shared/egress-plan.ts';
import { invalidField } from '../../../shared/errors.ts';
import { protocolOfUrl, resolveStreamUrl, type ResolvedStreamUrl, type StreamProtocolName } from '../stream-url.ts';
import { withLegacy } from './stored.ts';
import { atMostOne, requestOutputKind, type CheckContext, type CheckedKind } from './output-kind.ts';

export interface DraftStream {
  protocol: StreamProtocolName;
  targets: ResolvedStreamUrl[];
}

/** LiveKit's keyframe interval for streams when none is asked. */
export const STREAM_KEYFRAME_INTERVAL_SEC = 4;

const STREAM_PROTOCOLS: ReadonlyMap<StreamProtocol, StreamProtocolName> = new Map([
  [StreamProtocol.RTMP, 'rtmp'],
  [StreamProtocol.SRT, 'srt'],
  [StreamProtocol.WEBSOCKET, 'websocket'],
]);

export function checkStream(stream: StreamOutput, allowWebsocket: boolean): DraftStream {
  let protocol: StreamProtocolName | undefined;
  if (stream.protocol === StreamProtocol.DEFAULT_PROTOCOL) {
    if (stream.urls.length === 0) throw invalidField('stream protocol');
    protocol = protocolOfUrl(stream.urls[0]!);
  } else {
    protocol = STREAM_PROTOCOLS.get(stream.protocol);
    if (!protocol) throw invalidField('stream protocol');
  }
  if (protocol === 'websocket' && !allowWebsocket)
    throw invalidField('stream protocol', 'WebSocket output is TrackEgress websocket_url or a v2 StartEgress stream');
  return { protocol, targets: stream.urls.map((url) => resolveStreamUrl(url, protocol)) };
}

/** What the plan keeps of a stream: its protocol and the redacted URLs. */
export function streamPlan(stream: DraftStream): StreamOutputPlan {
  return { protocol: stream.protocol, redactedUrls: stream.targets.map((t) => t.redacted) };
}

function checkedStream(stream: StreamOutput, ctx: CheckContext): Omit<CheckedKind, 'name'> {
  const draft = checkStream(stream, ctx.allowWebsocket);
  // An empty stream output only makes sense next to others (URLs come later through UpdateStream).
  if (draft.targets.length === 0 && !ctx.othersRequested) throw invalidField('stream url');
  return {
    carriesAudio: true,
    // WebSocket carries raw audio only.
    noVideo: draft.protocol === 'websocket' && ctx.audio,
    container: draft.protocol,
    defaultKeyframeSec: STREAM_KEYFRAME_INTERVAL_SEC,
    live: true,
    streamTargets: draft.targets,
    plan: () => ({ stream: streamPlan(draft) }),
  };
}

export const streamKind = requestOutputKind<StreamOutput>({
  name: 'stream',
  fromV1: (request) => withLegacy(request.streamOutputs, request.output?.case === 'stream' ? request.output.value : undefined),
  fromV2: ({ config }) => (config.case === 'stream' ? config.value : undefined),
  rules: atMostOne('multiple stream outputs', checkedStream, (stream, limits) => {
    if (stream.urls.length > limits.max_stream_urls) throw invalidField('stream urls', `at most ${limits.max_stream_urls}`);
  }),
});
