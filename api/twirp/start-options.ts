/**
 * The options of a Start RPC that travel in HTTP headers rather than in LiveKit's request message. Read by
 * the Start RPCs only: a header another RPC does not use cannot make it fail.
 */
import type { FastifyRequest } from 'fastify';
import { invalidField } from '../../shared/errors.ts';
import type { StartOptions } from '../egress-service.ts';

/** Header for a per-egress maximum duration in seconds (not in LiveKit's protocol; livekit/egress#358). */
export const MAX_DURATION_HEADER = 'x-egress-max-duration';

export function startOptions(headers: FastifyRequest['headers']): StartOptions {
  const raw = headers[MAX_DURATION_HEADER];
  if (raw === undefined) return {};
  const seconds = Number(raw);
  if (typeof raw !== 'string' || !Number.isFinite(seconds) || seconds <= 0) {
    throw invalidField(MAX_DURATION_HEADER, 'seconds, a positive number');
  }
  return { maxDurationSec: seconds };
}
