/**
 * The stream output of a request (StreamOutput): its protocol (named, or the first URL's scheme), each URL
 * resolved (the real one is a secret, the plan keeps the redacted one); WebSocket only where allowed.
 */
import { StreamProtocol, type StreamOutput } from '@livekit/protocol';
import type { StreamOutputPlan } from '../../../shared/egress-plan.ts';
import { invalidField } from '../../../shared/errors.ts';
import { protocolOfUrl, resolveStreamUrl, type ResolvedStreamUrl, type StreamProtocolName } from '../stream-url.ts';

export interface DraftStream {
  protocol: StreamProtocolName;
  targets: ResolvedStreamUrl[];
}

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
export function streamPlan(stream: DraftStream | undefined): StreamOutputPlan | undefined {
  return stream && { protocol: stream.protocol, redactedUrls: stream.targets.map((t) => t.redacted) };
}
