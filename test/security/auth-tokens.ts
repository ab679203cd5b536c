/**
 * Hand-made JWTs for the authentication tests: any header, any payload, signed with HMAC of any hash (or not
 * at all), so that tokens no SDK would make (alg none, RS256 header over an HMAC, iss = `constructor`) can be sent.
 */
import { createHmac } from 'node:crypto';

const b64url = (data: string | Buffer) => Buffer.from(data).toString('base64url');

export interface TokenParts {
  header?: Record<string, unknown>;
  payload?: Record<string, unknown>;
  /** The HMAC key; undefined: no signature (an empty third part). */
  secret?: string | undefined;
  /** HMAC hash; default sha256 (HS256). */
  hash?: 'sha256' | 'sha384' | 'sha512';
}

export const nowSec = () => Math.floor(Date.now() / 1000);

/** A grant-carrying payload as livekit-server-sdk writes it, valid for ten minutes. */
export function recordPayload(iss: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { iss, sub: 'test-client', nbf: nowSec() - 5, exp: nowSec() + 600, video: { roomRecord: true }, ...extra };
}

export function jwt({ header = { alg: 'HS256', typ: 'JWT' }, payload = {}, secret, hash = 'sha256' }: TokenParts): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const signature = secret === undefined ? '' : createHmac(hash, secret).update(input).digest('base64url');
  return `${input}.${signature}`;
}

export const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
