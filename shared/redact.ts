/**
 * Secrets out of request messages before they are stored (EgressInfo.request), logged or sent in webhooks,
 * as LiveKit does (protocol `egress/redact.go`, `utils/redact.go`): upload credentials become `{name}`
 * placeholders and stream keys keep only a few characters.
 */
import { Message, type AnyMessage } from '@bufbuild/protobuf';

/** What a secret cut out of free text (a log line, an SDK's error message) becomes. */
export const REDACTED = '[redacted]';

/** How to clean one kind of free text; see redactText. */
export interface TextRedaction {
  /** Known secret values (configured keys), each replaced by REDACTED wherever it appears. */
  secrets?: readonly string[];
  /** Then each pattern's matches replaced, in order (the replacement may keep a group, e.g. `$1[redacted]`). */
  patterns?: readonly (readonly [RegExp, string])[];
  /** Then cut to this many characters. */
  maxLength?: number;
}

/** Free text (an SDK's error message) without the secrets it may quote. */
export function redactText(text: string, { secrets = [], patterns = [], maxLength }: TextRedaction): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join(REDACTED);
  for (const [pattern, replacement] of patterns) out = out.replace(pattern, replacement);
  return maxLength === undefined ? out : out.slice(0, maxLength);
}

/** rtmp(s)://{host}(/{path})/{app}/{stream_key}( live=1) — LiveKit's pattern; group 4 is the key. */
export const RTMP_URL_PATTERN = /^(rtmps?:\/\/)(.*\/)(.*\/)(\S*)( live=1)?$/;
/** mux:// and twitch:// carry the stream key as the whole authority. */
const SHORTHAND_URL = /^(mux|twitch):\/\/(\S+)$/;

/**
 * LiveKit's `RedactIdentifier`: the first and last 3 characters of a key of 9 or more (2 from 6, 1 from 3,
 * none below), e.g. `secret_stream_key` → `{sec...key}`.
 */
export function redactIdentifier(identifier: string): string {
  const keep = [3, 2, 1].find((n) => identifier.length >= n * 3) ?? 0;
  return keep === 0 ? '{...}' : `{${identifier.slice(0, keep)}...${identifier.slice(-keep)}}`;
}

/** Every query value replaced with `{...}` (SRT passphrases, WebSocket tokens), names kept. */
export function redactUrlQueryValues(url: string): string {
  const q = url.indexOf('?');
  if (q < 0 || q === url.length - 1) return url;
  const params = url
    .slice(q + 1)
    .split('&')
    .map((param) => {
      const eq = param.indexOf('=');
      return eq >= 0 && eq < param.length - 1 ? `${param.slice(0, eq)}={...}` : param;
    });
  return `${url.slice(0, q)}?${params.join('&')}`;
}

/**
 * A URL's credentials hidden: userinfo becomes `{...}`, every query value `{...}` (names kept) and a fragment
 * `{...}`, e.g. `https://{...}@hooks.example.com/in?token={...}`. For webhook, endpoint and proxy URLs, whose
 * host and path say where things go and whose userinfo and query are how they get in.
 */
export function redactUrlCredentials(url: string): string {
  let out = url;
  const hash = out.indexOf('#');
  if (hash >= 0) out = `${out.slice(0, hash)}${hash < out.length - 1 ? '#{...}' : '#'}`;
  const scheme = out.indexOf('://');
  if (scheme >= 0) {
    const start = scheme + 3;
    const rest = out.slice(start);
    const authorityEnd = rest.search(/[/\\?#]/);
    const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
    const at = authority.lastIndexOf('@');
    if (at >= 0) out = `${out.slice(0, start)}{...}${out.slice(start + at)}`;
  }
  const q = out.indexOf('?');
  if (q < 0) return out;
  const end = out.indexOf('#', q);
  const query = out.slice(q + 1, end < 0 ? undefined : end);
  // A bare `?abc123` is as much a token as `?token=abc123`: only empty parts stay as they are.
  const params = query.split('&').map((param) => {
    const eq = param.indexOf('=');
    if (eq >= 0) return eq < param.length - 1 ? `${param.slice(0, eq)}={...}` : param;
    return param === '' ? param : '{...}';
  });
  return `${out.slice(0, q)}?${params.join('&')}${end < 0 ? '' : out.slice(end)}`;
}

/** A stream URL fit to show: the RTMP / mux / twitch key shortened, query values hidden, anything else as is. */
export function redactStreamUrl(url: string): string {
  const shorthand = SHORTHAND_URL.exec(url);
  if (shorthand) return `${shorthand[1]}://${redactIdentifier(shorthand[2]!)}`;
  const rtmp = RTMP_URL_PATTERN.exec(url);
  if (rtmp) return `${rtmp[1]}${rtmp[2]}${rtmp[3]}${redactIdentifier(rtmp[4]!)}${rtmp[5] ?? ''}`;
  return redactUrlQueryValues(url);
}

type Redactor = (value: string) => string;

/** A set secret becomes its placeholder; an empty one stays empty (LiveKit `utils.Redact`). */
const placeholder =
  (name: string): Redactor =>
  (value) =>
    value === '' ? '' : name;

/**
 * Secret-bearing string fields, by message type and field (a oneof member counts as a field). LiveKit's
 * list, plus the proxy password, the webhook signing key, and the userinfo and query of webhook, endpoint
 * and proxy URLs.
 */
const SECRET_FIELDS: Readonly<Record<string, Readonly<Record<string, Redactor>>>> = {
  'livekit.S3Upload': {
    accessKey: placeholder('{access_key}'),
    secret: placeholder('{secret}'),
    sessionToken: placeholder('{session_token}'),
    assumeRoleExternalId: placeholder('{external_id}'),
    endpoint: redactUrlCredentials,
  },
  'livekit.GCPUpload': { credentials: placeholder('{credentials}') },
  'livekit.AzureBlobUpload': { accountName: placeholder('{account_name}'), accountKey: placeholder('{account_key}') },
  'livekit.AliOSSUpload': { accessKey: placeholder('{access_key}'), secret: placeholder('{secret}'), endpoint: redactUrlCredentials },
  'livekit.ProxyConfig': { url: redactUrlCredentials, password: placeholder('{password}') },
  'livekit.WebhookConfig': { url: redactUrlCredentials, signingKey: placeholder('{signing_key}') },
  'livekit.StreamOutput': { urls: redactStreamUrl },
  'livekit.TrackEgressRequest': { websocketUrl: redactStreamUrl },
  'livekit.UpdateStreamRequest': { addOutputUrls: redactStreamUrl, removeOutputUrls: redactStreamUrl },
};

const isOneof = (v: unknown): v is { case: string | undefined; value?: unknown } =>
  typeof v === 'object' && v !== null && !(v instanceof Message) && 'case' in v;

/** Redacts `value` if `redactor` applies, else walks into it. Returns the (possibly new) value. */
function visit(value: unknown, redactor: Redactor | undefined): unknown {
  if (typeof value === 'string') return redactor ? redactor(value) : value;
  if (Array.isArray(value)) return value.map((item) => visit(item, redactor));
  if (value instanceof Message) redactInPlace(value);
  else if (isOneof(value) && value.case !== undefined) value.value = visit(value.value, undefined);
  return value;
}

function redactInPlace(message: AnyMessage): void {
  const fields = SECRET_FIELDS[message.getType().typeName] ?? {};
  const record = message as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const value = record[key];
    if (isOneof(value) && value.case !== undefined) {
      value.value = visit(value.value, fields[value.case]);
    } else {
      record[key] = visit(value, fields[key]);
    }
  }
}

/** A deep copy of a request (any message) with every secret replaced; the original is untouched. */
export function redactRequest<T extends Message<T>>(message: T): T {
  const copy = message.clone();
  redactInPlace(copy);
  return copy;
}
