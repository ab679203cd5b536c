/**
 * HTTP Basic authentication with the service's own API keys: user name = API key, password = its secret.
 * Operators already hold these, and no second credential store is needed.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';

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

/** An onRequest hook answering 401 with a Basic challenge unless the request is authorized. */
export function requireBasicAuth(apiKeys: ReadonlyMap<string, string>): onRequestAsyncHookHandler {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (isAuthorized(request.headers.authorization, apiKeys)) return;
    return reply
      .code(401)
      .header('WWW-Authenticate', `Basic realm="${REALM}", charset="UTF-8"`)
      .send({ error: 'unauthorized', message: 'sign in with an API key as user name and its secret as password' });
  };
}
