/**
 * Where a stream URL (RTMP, RTMPS, SRT, WebSocket) sends the recording, taken apart once, strictly, so that
 * the host we check is the host that is connected to. A caller's string is never handed to ffmpeg or to a
 * socket: it is parsed here, checked (shared/url-policy.ts), and what connects is rebuilt from the parts.
 *
 * The host is read the way ffmpeg's `av_url_split` reads it (the authority ends at the first `/ ? #`; a port
 * after the first `:`), and a URL is refused when the WHATWG URL parser (what `ws` and our checks use) sees
 * another host or port, or when it holds anything either parser could read differently: user information,
 * whitespace or control characters, backslashes, non-ASCII, a fragment (RTMP, WebSocket), a host that is
 * neither a plain DNS name, an IPv4 form nor a bracketed IPv6 address.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { normalizeHost } from './address-forms.ts';

export type StreamScheme = 'rtmp' | 'rtmps' | 'srt' | 'ws' | 'wss';

/** The schemes and their default ports (SRT has none: its URLs must name one). */
const DEFAULT_PORTS: ReadonlyMap<string, number | undefined> = new Map<StreamScheme, number | undefined>([
  ['rtmp', 1935],
  ['rtmps', 443],
  ['srt', undefined],
  ['ws', 80],
  ['wss', 443],
]);

export interface StreamDestination {
  scheme: StreamScheme;
  /** `normalizeHost` of the host as written: what is checked, resolved, and shown. */
  host: string;
  /** The port as written, if it was. */
  port: number | undefined;
  /** From the authority's end up to `?` (`''` when none). */
  path: string;
  /** After the first `?`, as written (`''` when none). SRT: may hold `#` (a stream id like `#!::r=…`). */
  query: string;
}

/** Why a stream URL was refused; the caller wraps it into LiveKit's `invalid url <redacted>: <reason>`. */
export class StreamUrlError extends Error {
  override name = 'StreamUrlError';
}

/** librtmp's ` live=1` suffix, which LiveKit accepts; every stream we publish is live anyway. */
const LIVE_SUFFIX = ' live=1';
const PRINTABLE_ASCII = /^[\x21-\x7e]*$/;
const HOST_NAME = /^[A-Za-z0-9._-]+$/;
const PORT = /^[0-9]{1,5}$/;

/** The port a destination connects to: the one written, else the scheme's. */
export function portOf(destination: StreamDestination): number {
  return destination.port ?? DEFAULT_PORTS.get(destination.scheme)!;
}

/** Takes a stream URL apart, or throws StreamUrlError saying why it cannot be used. */
export function parseStreamUrl(raw: string): StreamDestination {
  const text = /^rtmps?:/i.test(raw) && raw.endsWith(LIVE_SUFFIX) ? raw.slice(0, -LIVE_SUFFIX.length) : raw;
  if (!PRINTABLE_ASCII.test(text)) throw new StreamUrlError('whitespace, control characters or non-ASCII characters');
  if (text.includes('\\')) throw new StreamUrlError('a backslash');
  const schemeMatch = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text);
  const scheme = schemeMatch?.[1]!.toLowerCase();
  if (!scheme || !DEFAULT_PORTS.has(scheme)) throw new StreamUrlError('invalid scheme');
  const afterScheme = text.slice(schemeMatch![0].length);
  const authorityEnd = afterScheme.search(/[/?#]/);
  const authority = authorityEnd < 0 ? afterScheme : afterScheme.slice(0, authorityEnd);
  const rest = authorityEnd < 0 ? '' : afterScheme.slice(authorityEnd);
  if (authority.includes('@')) throw new StreamUrlError('user information in a stream URL is not supported');
  const { hostText, port } = splitAuthority(authority);
  const isSrt = scheme === 'srt';
  if (!isSrt && rest.includes('#')) throw new StreamUrlError('a fragment (#)');
  const q = rest.indexOf('?');
  const path = q < 0 ? rest : rest.slice(0, q);
  const query = q < 0 ? '' : rest.slice(q + 1);
  const destination: StreamDestination = { scheme: scheme as StreamScheme, host: normalizeHost(hostText), port, path, query };
  if (isSrt && port === undefined) throw new StreamUrlError('an SRT URL needs a port');
  agreeWithWhatwg(text, destination);
  return destination;
}

/** `host[:port]` or `[v6][:port]`, as av_url_split splits it (at the first `:`), held to what both parsers read alike. */
function splitAuthority(authority: string): { hostText: string; port: number | undefined } {
  let hostText: string;
  let portText: string | undefined;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    hostText = close < 0 ? '' : authority.slice(1, close);
    const after = close < 0 ? '' : authority.slice(close + 1);
    if (close < 0 || isIP(hostText) !== 6 || hostText.includes('%') || (after !== '' && !after.startsWith(':')))
      throw new StreamUrlError('invalid IPv6 host');
    // One spelling of the address (`::ffff:127.0.0.3` → `::ffff:7f00:3`), as WHATWG serializes it.
    const spelled = `http://[${hostText}]/`;
    if (!URL.canParse(spelled)) throw new StreamUrlError('invalid IPv6 host');
    hostText = new URL(spelled).hostname.slice(1, -1);
    portText = after === '' ? undefined : after.slice(1);
  } else {
    const colon = authority.indexOf(':');
    hostText = colon < 0 ? authority : authority.slice(0, colon);
    portText = colon < 0 ? undefined : authority.slice(colon + 1);
    if (!HOST_NAME.test(hostText)) throw new StreamUrlError('invalid host');
  }
  if (portText === undefined) return { hostText, port: undefined };
  const port = PORT.test(portText) ? Number(portText) : 0;
  if (port < 1 || port > 65535) throw new StreamUrlError('invalid port');
  return { hostText, port };
}

/** The WHATWG parser must see the same host and port, and no credentials. */
function agreeWithWhatwg(text: string, ours: StreamDestination): void {
  if (!URL.canParse(text)) throw new StreamUrlError('cannot be parsed');
  const url = new URL(text);
  const whatwgPort = url.port === '' ? DEFAULT_PORTS.get(ours.scheme) : Number(url.port);
  const agree =
    normalizeHost(url.hostname) === ours.host &&
    whatwgPort === (ours.port ?? DEFAULT_PORTS.get(ours.scheme)) &&
    url.username === '' &&
    url.password === '';
  if (!agree || ours.host === '') throw new StreamUrlError('ambiguous host');
}

/** The URL rebuilt from its parts; `host` (a checked address) replaces the host to pin a connection. */
export function formatStreamUrl(destination: StreamDestination, host = destination.host): string {
  const shownHost = isIP(host) === 6 ? `[${host}]` : host;
  const port = destination.port === undefined ? '' : `:${destination.port}`;
  return `${destination.scheme}://${shownHost}${port}${destination.path}${destination.query ? `?${destination.query}` : ''}`;
}

/**
 * A stream's identity: SHA-256 of its URL in one canonical form (effective port, normalized host), so
 * UpdateStream finds a stream by its real URL however it is written, and two URLs that only redact alike
 * are two streams. Unkeyed: it never leaves the sealed secrets (no log, job data or EgressInfo holds it).
 */
export function streamIdOf(destination: StreamDestination): string {
  const canonical = formatStreamUrl({ ...destination, port: portOf(destination) });
  return createHash('sha256').update('egress-queue stream v1\0').update(canonical).digest('hex');
}
