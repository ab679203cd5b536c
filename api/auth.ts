/**
 * Authentication as livekit-server does it: a JWT in `Authorization: Bearer …` (or `access_token`), signed
 * HS256 with the secret of the API key named in `iss`, carrying the `video.roomRecord` grant.
 */
import { decodeJwt, jwtVerify } from 'jose';
import { EgressError } from '../shared/errors.ts';

export interface Caller {
  apiKey: string;
  identity: string;
}

export function tokenFrom(headers: { authorization?: string | undefined }, query: unknown): string | undefined {
  const header = headers.authorization;
  if (header) {
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    return match ? match[1] : undefined;
  }
  const fromQuery = (query as Record<string, unknown> | undefined)?.access_token;
  return typeof fromQuery === 'string' && fromQuery ? fromQuery : undefined;
}

const unauthenticated = (why: string) => new EgressError('EGR_ERR_UNAUTHENTICATED', why);

export async function authenticate(token: string | undefined, keys: ReadonlyMap<string, string>): Promise<Caller> {
  if (!token) throw unauthenticated('no authorization header or access_token: send "Authorization: Bearer <token>"');
  let issuer: string | undefined;
  try {
    issuer = decodeJwt(token).iss;
  } catch {
    throw unauthenticated('invalid token: not a JWT');
  }
  if (!issuer) throw unauthenticated('invalid token: no issuer (iss must be the API key)');
  const secret = keys.get(issuer);
  if (secret === undefined) throw unauthenticated(`invalid token: unknown API key ${issuer}`);
  let payload;
  try {
    ({ payload } = await jwtVerify(token, new TextEncoder().encode(secret), { algorithms: ['HS256'], issuer }));
  } catch (err) {
    throw unauthenticated(`invalid token: ${(err as Error).message}`);
  }
  const video = payload.video as { roomRecord?: unknown } | undefined;
  if (video?.roomRecord !== true) {
    throw new EgressError('EGR_ERR_PERMISSION_DENIED', 'permissions denied: the token needs the video.roomRecord grant');
  }
  return { apiKey: issuer, identity: typeof payload.sub === 'string' ? payload.sub : '' };
}
