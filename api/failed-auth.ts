/**
 * The outcome of one checked credential of the Twirp API or Bull Board, settled against the client address
 * (shared/auth-throttle.ts). The address is request.ip: the peer, or what a proxy named in config
 * `trust_proxy` reports.
 */
import type { FastifyRequest } from 'fastify';
import type { AuthThrottle } from '../shared/auth-throttle.ts';
import { clientKey } from '../shared/client-address.ts';

/** Throws RATE_LIMITED when the address is throttled by now, right credential or not; counts a wrong one. */
export async function settleAttempt(throttle: AuthThrottle, request: FastifyRequest, ok: boolean): Promise<void> {
  const failures = await throttle.settle(request.ip, ok);
  if (!ok && failures === throttle.limit) {
    request.log.warn(
      { client: clientKey(request.ip), failures },
      'too many failed authentications: client address throttled for the rest of the minute',
    );
  }
}
