import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A LiveKit-style id: prefix + 12 base62 characters (EG_ for egresses). */
export function newId(prefix: string, length = 12): string {
  const bytes = randomBytes(length * 2);
  let out = prefix;
  for (let i = 0; out.length < prefix.length + length && i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b < 248) out += ALPHABET[b % 62]; // 248 = 4 × 62: no modulo bias
  }
  return out.length === prefix.length + length ? out : newId(prefix, length);
}

export const newEgressId = (): string => newId('EG_');

/** Unix nanoseconds as protobuf int64. */
export const nowNanos = (): bigint => BigInt(Date.now()) * 1_000_000n;
export const msToNanos = (ms: number): bigint => BigInt(Math.round(ms)) * 1_000_000n;
