/**
 * HTTP Basic authentication with the service's own API keys: user name = API key, password = its secret.
 * Operators already hold these, and no second credential store is needed.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { AuthThrottle } from '../../shared/auth-throttle.ts';
import { EgressError } from '../../shared/errors.ts';
import { settleAttempt } from '../failed-auth.ts';

export const REALM = 'egress-queue';

/** True when the Authorization header names a configured key with its secret. */
export function isAuthorized(header: string | undefined, apiKeys: ReadonlyMap<string, string>): boolean {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!match) return false;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  const key = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  const secret = apiKeys.get(key);
  // Compared even for an unknown key, so the answer takes as long whether or not the key exists.
  const same = timingSafeEqual(digest(password), digest(secret ?? ''));
  return secret !== undefined && same;
}

/** Hashing first gives both sides the same length, which timingSafeEqual requires, without leaking it. */
const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * An onRequest hook answering 401 with a Basic challenge unless the request is authorized, and 429 with
 * Retry-After to every request of a client address that failed too often (shared/auth-throttle.ts). A request
 * without credentials (a browser's first, before it asks for them) is not counted as a failure.
 */
export function requireBasicAuth(apiKeys: ReadonlyMap<string, string>, throttle: AuthThrottle): onRequestAsyncHookHandler {
  const tooMany = (reply: FastifyReply, retryAfterSec: string) =>
    reply
      .code(429)
      .header('Retry-After', retryAfterSec)
      .send({ error: 'too_many_requests', message: `too many failed sign-ins from this address: retry in ${retryAfterSec} s` });
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const retryAfterSec = await throttle.retryAfter(request.ip);
    if (retryAfterSec !== undefined) return tooMany(reply, String(retryAfterSec));
    if (request.headers.authorization) {
      const ok = isAuthorized(request.headers.authorization, apiKeys);
      try {
        await settleAttempt(throttle, request, ok);
      } catch (err) {
        if (err instanceof EgressError && err.meta.retry_after !== undefined) return tooMany(reply, err.meta.retry_after);
        throw err;
      }
      if (ok) return;
    }
    return reply
      .code(401)
      .header('WWW-Authenticate', `Basic realm="${REALM}", charset="UTF-8"`)
      .send({ error: 'unauthorized', message: 'sign in with an API key as user name and its secret as password' });
  };
}
