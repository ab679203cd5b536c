/**
 * Every string a request carries is bounded, checked before anything else looks at the request. The
 * strings are found by walking the message's own schema, so a field the protocol adds later is bounded
 * too. Numbers and counts are bounded where they are understood (shared/encoding.ts, outputs.ts; the
 * webhook count in api/webhook-targets.ts).
 */
import { ScalarType, type AnyMessage, type FieldInfo } from '@bufbuild/protobuf';
import { invalidField } from '../../shared/errors.ts';
import type { Limits } from '../../shared/limits.ts';

/** Fields (proto names) that hold a URL: `max_url_length`. */
const URL_FIELDS: ReadonlySet<string> = new Set([
  'url',
  'urls',
  'custom_base_url',
  'websocket_url',
  'endpoint',
  'add_output_urls',
  'remove_output_urls',
]);

/**
 * Credentials and the like: never part of a name, a plan or a log (they are sealed in Redis), and sized by
 * their issuer (an STS session token has no documented maximum; a service-account JSON is a few KiB).
 */
const OPAQUE_FIELDS: ReadonlySet<string> = new Set([
  'access_key',
  'secret',
  'session_token',
  'assume_role_arn',
  'assume_role_external_id',
  'credentials',
  'account_key',
  'username',
  'password',
  'metadata',
  'tagging',
  'content_disposition',
]);

/** Generous for any real credential, small enough that a request's sealed secrets stay small. */
const MAX_OPAQUE_LENGTH = 64 * 1024;

type Visit = (path: string, value: string, max: number) => void;

function maxFor(field: FieldInfo, limits: Limits): number {
  if (URL_FIELDS.has(field.name)) return limits.max_url_length;
  if (OPAQUE_FIELDS.has(field.name)) return MAX_OPAQUE_LENGTH;
  return limits.max_name_length;
}

/** The value a field holds now; a oneof member that is not the chosen case holds none. */
function valueOf(message: AnyMessage, field: FieldInfo): unknown {
  if (field.oneof) {
    const chosen = message[field.oneof.localName] as { case: string | undefined; value?: unknown };
    return chosen.case === field.localName ? chosen.value : undefined;
  }
  return message[field.localName];
}

function walk(message: AnyMessage, path: string, limits: Limits, visit: Visit): void {
  for (const field of message.getType().fields.list()) {
    const value = valueOf(message, field);
    if (value === undefined) continue;
    const at = path ? `${path}.${field.name}` : field.name;
    const max = maxFor(field, limits);
    switch (field.kind) {
      case 'scalar':
        if (field.T !== ScalarType.STRING) break;
        if (field.repeated) (value as string[]).forEach((s, i) => visit(`${at}[${i}]`, s, max));
        else visit(at, value as string, max);
        break;
      case 'message':
        if (field.repeated) (value as AnyMessage[]).forEach((m, i) => walk(m, `${at}[${i}]`, limits, visit));
        else walk(value as AnyMessage, at, limits, visit);
        break;
      case 'map':
        // Keys are the caller's text: only iterated, never used to look anything up.
        for (const [key, entry] of Object.entries(value as Record<string, unknown>)) {
          visit(`${at} key`, key, max);
          if (typeof entry === 'string') visit(at, entry, max);
          else if (field.V.kind === 'message') walk(entry as AnyMessage, at, limits, visit);
        }
        break;
      case 'enum':
        break;
    }
  }
}

/** Every string of `request` within its bound; the first one over it is refused by its path (`file_outputs[0].filepath`). */
export function checkStringLengths(request: AnyMessage, limits: Limits): void {
  walk(request, '', limits, (path, value, max) => {
    if (value.length > max) throw invalidField(path, `longer than ${max} characters`);
  });
}
