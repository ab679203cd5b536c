/**
 * How the HTTP logger writes requests and errors: no query value of an incoming request in any log line.
 * Query strings carry credentials (`access_token` on the Twirp API, the recorder's room `token` on the
 * templates), and Fastify logs the URL at debug level ("incoming request"), in 5xx error lines and in its
 * "Route … not found" message. Values are redacted, not picked by name: a parameter added tomorrow is covered.
 */
import { pino, type SerializedError } from 'pino';
import { REDACTED, redactText } from '../shared/redact.ts';

/** The URL with every query value replaced (`/x?access_token=[redacted]`); a bare parameter is replaced whole. */
export function redactQuery(url: string): string {
  const start = url.indexOf('?');
  if (start < 0) return url;
  const query = url
    .slice(start + 1)
    .split('&')
    .map((part) => {
      const eq = part.indexOf('=');
      return eq < 0 ? (part ? REDACTED : part) : `${part.slice(0, eq)}=${REDACTED}`;
    });
  return `${url.slice(0, start)}?${query.join('&')}`;
}

/** Query values inside free text (an error message quoting a URL). */
export function redactQueriesInText(text: string): string {
  return redactText(text, { patterns: [[/([?&][^\s=&?#"'<>]*=)[^\s&#"'<>]*/g, `$1${REDACTED}`]] });
}

interface LoggedRequest {
  method: string;
  url: string;
  host?: string;
  ip: string;
  socket?: { remotePort?: number | undefined };
}

/** Fastify's own `req` serializer (method, url, host, address, port), with the query values redacted. */
function serializeRequest(request: LoggedRequest) {
  return {
    method: request.method,
    url: redactQuery(request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}

const MAX_DEPTH = 4;

/** Every string redacted; bytes (Node's `rawPacket` of a malformed request holds its request line) only counted. */
function scrub(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactQueriesInText(value);
  if (value instanceof Uint8Array) return `[${value.byteLength} bytes]`;
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= MAX_DEPTH) return '[…]';
  if (Array.isArray(value)) return value.map((item) => scrub(item, depth + 1));
  const out = Object.create(null) as Record<string, unknown>;
  for (const [key, item] of Object.entries(value)) out[key] = scrub(item, depth + 1);
  return out;
}

/** pino's error serializer (type, message, stack, cause, own properties), then scrubbed. */
function serializeError(err: Error): SerializedError {
  return scrub(pino.stdSerializers.err(err), 0) as SerializedError;
}

/** For the HTTP logger: `log.child(bindings, { serializers: REQUEST_LOG_SERIALIZERS })`. */
export const REQUEST_LOG_SERIALIZERS = { req: serializeRequest, err: serializeError };
