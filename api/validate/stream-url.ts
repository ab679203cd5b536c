/**
 * Stream URLs (egress `pkg/config/urls.go`): the scheme decides the protocol, RTMP URLs must name an app
 * and a stream key, `mux://<key>` expands to Mux's ingest. Every URL is taken apart and rebuilt
 * (shared/stream-destination.ts): what is sealed for the worker is our canonical form, never the caller's
 * string. SRT URLs may carry only a sender's options (shared/srt-options.ts). Error messages show the URL
 * redacted, not LiveKit's raw URL: they end up in logs.
 */
import { EgressError, invalidField } from '../../shared/errors.ts';
import { redactStreamUrl } from '../../shared/redact.ts';
import { rtmpPartsOf } from '../../shared/rtmp-url.ts';
import { parseSrtQuery, srtQueryOf } from '../../shared/srt-options.ts';
import { formatStreamUrl, parseStreamUrl, streamIdOf, StreamUrlError, type StreamDestination } from '../../shared/stream-destination.ts';

export type StreamProtocolName = 'rtmp' | 'srt' | 'websocket';

export interface ResolvedStreamUrl {
  /** The URL to send to, rebuilt from its checked parts (mux:// expanded). Secret: never in job data. */
  url: string;
  /** For StreamInfo, logs, the plan. */
  redacted: string;
  /** Its identity (shared/stream-destination.ts `streamIdOf`): sealed, never shown. */
  id: string;
  /** The host to check against url_policy (normalized). */
  host: string;
}

/** A Map: the scheme comes from the caller (`constructor:` must not find Object's constructor). */
const PROTOCOL_OF_SCHEME: ReadonlyMap<string, StreamProtocolName> = new Map<string, StreamProtocolName>([
  ['rtmp', 'rtmp'],
  ['rtmps', 'rtmp'],
  ['mux', 'rtmp'],
  ['twitch', 'rtmp'],
  ['srt', 'srt'],
  ['ws', 'websocket'],
  ['wss', 'websocket'],
]);

const MUX_INGEST = 'rtmps://global-live.mux.com:443/app/';

/** LiveKit's `invalid url <url>: <reason>` (InvalidArgument). */
export function invalidUrl(url: string, reason: string): EgressError {
  return new EgressError('EGR_ERR_INVALID_ARGUMENT', `invalid url ${redactStreamUrl(url)}: ${reason}`, { meta: { field: 'url' } });
}

/** Lower-cased scheme, as Go's url.Parse reports it; '' when there is none. */
function schemeOf(url: string): string {
  return /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url)?.[1]!.toLowerCase() ?? '';
}

/** The protocol a DEFAULT_PROTOCOL stream output takes from its first URL. */
export function protocolOfUrl(url: string): StreamProtocolName {
  const protocol = PROTOCOL_OF_SCHEME.get(schemeOf(url));
  if (!protocol) throw invalidUrl(url, 'invalid protocol');
  return protocol;
}

/** The canonical URL of a parsed destination, with the protocol's own rules applied. */
function canonicalOf(destination: StreamDestination, protocol: StreamProtocolName): StreamDestination {
  if (protocol === 'rtmp') {
    rtmpPartsOf(destination);
    return destination;
  }
  if (protocol === 'srt') {
    if (destination.path !== '' && destination.path !== '/') throw new StreamUrlError('an SRT URL has no path');
    return { ...destination, path: '', query: srtQueryOf(parseSrtQuery(destination.query)) };
  }
  return { ...destination, path: destination.path || '/' };
}

/** Checks one URL against its output's protocol and returns where to send it. */
export function resolveStreamUrl(raw: string, protocol: StreamProtocolName): ResolvedStreamUrl {
  const scheme = schemeOf(raw);
  if (PROTOCOL_OF_SCHEME.get(scheme) !== protocol) throw invalidUrl(raw, 'invalid scheme');
  if (scheme === 'twitch') {
    // LiveKit asks https://ingest.twitch.tv/ingests for the ingest; this service makes no such call.
    throw invalidField(
      'stream url',
      `${redactStreamUrl(raw)}: twitch:// is not supported, use rtmps://<ingest>.contribute.live-video.net/app/<stream_key>`,
    );
  }
  let url = raw;
  if (scheme === 'mux') {
    const key = /^mux:\/\/([^/?#\s]+)$/i.exec(raw)?.[1];
    if (!key) throw invalidUrl(raw, 'missing stream key');
    url = MUX_INGEST + key;
  }
  let destination: StreamDestination;
  try {
    destination = canonicalOf(parseStreamUrl(url), protocol);
  } catch (err) {
    if (err instanceof StreamUrlError) throw invalidUrl(raw, err.message);
    throw err;
  }
  const canonical = formatStreamUrl(destination);
  return { url: canonical, redacted: redactStreamUrl(canonical), id: streamIdOf(destination), host: destination.host };
}
