/**
 * The RTMP handshake (RTMP 1.0 §5.2), in its plain form: C0 (version 3) and C1 (time, zero, 1528 random
 * bytes) out, S0 S1 S2 in, C2 (S1 echoed) out. Publishing servers accept it (OBS's librtmp sends the same).
 */
import { randomBytes } from 'node:crypto';

export const HANDSHAKE_BYTES = 1536;
const RTMP_VERSION = 3;

/** C0 + C1. */
export function clientHello(): Buffer {
  const c1 = Buffer.alloc(HANDSHAKE_BYTES);
  c1.writeUInt32BE(0, 0);
  c1.writeUInt32BE(0, 4);
  randomBytes(HANDSHAKE_BYTES - 8).copy(c1, 8);
  return Buffer.concat([Buffer.from([RTMP_VERSION]), c1]);
}

export class HandshakeError extends Error {
  override name = 'HandshakeError';
}

/**
 * Once S0 + S1 + S2 are in `received`: C2 to send, and what came after them (the server's first chunks).
 * Undefined while they are not all there.
 */
export function answerServer(received: Buffer): { c2: Buffer; rest: Buffer } | undefined {
  if (received.length < 1) return undefined;
  if (received[0] !== RTMP_VERSION) throw new HandshakeError(`not an RTMP server (version byte ${received[0]})`);
  const end = 1 + 2 * HANDSHAKE_BYTES;
  if (received.length < end) return undefined;
  const s1 = received.subarray(1, 1 + HANDSHAKE_BYTES);
  return { c2: Buffer.from(s1), rest: received.subarray(end) };
}
