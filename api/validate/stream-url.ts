/**
 * Stream URLs (egress `pkg/config/urls.go`): the scheme decides the protocol, RTMP URLs must name an app
 * and a stream key, `mux://<key>` expands to Mux's ingest. Error messages show the URL redacted, not
 * LiveKit's raw URL: they end up in logs.
 */
import { EgressError, invalidField } from '../../shared/errors.ts';
import { RTMP_URL_PATTERN, redactStreamUrl } from '../../shared/redact.ts';

export type StreamProtocolName = 'rtmp' | 'srt' | 'websocket';

export interface StreamTarget {
  /** The URL to send to (mux:// expanded). Secret: never in job data. */
  url: string;
  /** For StreamInfo, logs, the plan. */
  redacted: string;
}

const PROTOCOL_OF_SCHEME: Readonly<Record<string, StreamProtocolName>> = {
  rtmp: 'rtmp',
  rtmps: 'rtmp',
  mux: 'rtmp',
  twitch: 'rtmp',
  srt: 'srt',
  ws: 'websocket',
  wss: 'websocket',
};

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
  const protocol = PROTOCOL_OF_SCHEME[schemeOf(url)];
  if (!protocol) throw invalidUrl(url, 'invalid protocol');
  return protocol;
}

/** Checks one URL against its output's protocol and returns where to send it. */
export function resolveStreamUrl(raw: string, protocol: StreamProtocolName): StreamTarget {
  const scheme = schemeOf(raw);
  if (PROTOCOL_OF_SCHEME[scheme] !== protocol) throw invalidUrl(raw, 'invalid scheme');
  if (protocol !== 'rtmp') {
    if (!URL.canParse(raw)) throw invalidUrl(raw, 'cannot be parsed');
    return { url: raw, redacted: redactStreamUrl(raw) };
  }
  if (scheme === 'twitch') {
    // LiveKit asks https://ingest.twitch.tv/ingests for the ingest; this service makes no such call.
    throw invalidField('stream url', `${redactStreamUrl(raw)}: twitch:// is not supported, use rtmps://<ingest>.contribute.live-video.net/app/<stream_key>`);
  }
  let url = raw;
  if (scheme === 'mux') {
    const key = /^mux:\/\/([^/?#\s]+)/i.exec(raw)?.[1];
    if (!key) throw invalidUrl(raw, 'missing stream key');
    url = MUX_INGEST + key;
  }
  if (!RTMP_URL_PATTERN.test(url)) throw invalidUrl(raw, 'rtmp urls must be of format rtmp(s)://{host}(/{path})/{app}/{stream_key}( live=1)');
  return { url, redacted: redactStreamUrl(url) };
}
