/**
 * Twirp bodies: proto3 JSON (camelCase or snake_case names, enum names or numbers, int64 as strings) or
 * binary protobuf, decoded and encoded with the @livekit/protocol message classes.
 */
import type { Message, MessageType } from '@bufbuild/protobuf';
import { EgressError } from '../../shared/errors.ts';

export type Encoding = 'json' | 'protobuf';

export function encodingOf(contentType: string | undefined): Encoding {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === '' || type === 'application/json') return 'json';
  if (type === 'application/protobuf' || type === 'application/x-protobuf') return 'protobuf';
  throw new EgressError('EGR_ERR_BAD_ROUTE', `unexpected Content-Type: "${contentType}" (use application/json or application/protobuf)`);
}

export function decode<T extends Message<T>>(type: MessageType<T>, body: Buffer, encoding: Encoding): T {
  if (encoding === 'protobuf') {
    try {
      return type.fromBinary(body);
    } catch (err) {
      throw new EgressError('EGR_ERR_MALFORMED', `the body could not be decoded as ${type.typeName}: ${(err as Error).message}`);
    }
  }
  const text = body.toString('utf8').trim();
  let json: unknown;
  try {
    json = text === '' ? {} : JSON.parse(text);
  } catch (err) {
    throw new EgressError('EGR_ERR_MALFORMED', `the json request could not be decoded: ${(err as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new EgressError('EGR_ERR_MALFORMED', `the json request could not be decoded: expected an object for ${type.typeName}`);
  }
  try {
    return type.fromJson(json as never, { ignoreUnknownFields: true });
  } catch (err) {
    throw new EgressError('EGR_ERR_MALFORMED', `the json request could not be decoded: ${(err as Error).message}`);
  }
}

/** Responses in the request's encoding; JSON the way Twirp's Go servers write it (proto names, defaults emitted). */
export function encode(message: Message, encoding: Encoding): { contentType: string; body: Buffer } {
  if (encoding === 'protobuf') return { contentType: 'application/protobuf', body: Buffer.from(message.toBinary()) };
  const json = message.toJsonString({ useProtoFieldName: true, emitDefaultValues: true });
  return { contentType: 'application/json', body: Buffer.from(json) };
}
