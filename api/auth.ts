/**
 * Authentication as livekit-server does it: a JWT in `Authorization: Bearer …` (or `access_token`), signed
 * HS256 with the secret of the API key named in `iss`, carrying the `video.roomRecord` grant. `nbf` and `exp`
 * are checked with go-jose's one-minute leeway, as livekit-server's verifier does.
 *
 * The key is looked up in a Map: `iss` is the caller's, and on a plain object `__proto__`, `constructor` or
 * `toString` would find inherited values whose string forms anyone can sign with. Signatures are compared by
 * WebCrypto's HMAC verify (constant time). Error messages name no key and echo nothing from the token: a
 * caller who swapped key and secret must not find the secret in our answer or logs.
 */
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { EgressError } from '../shared/errors.ts';

export interface Caller {
  apiKey: string;
  identity: string;
}

/** go-jose's DefaultLeeway, which livekit-server's token verifier applies to `nbf` and `exp`. */
const CLOCK_LEEWAY_SEC = 60;

export function tokenFrom(headers: { authorization?: string | undefined }, query: unknown): string | undefined {
  const header = headers.authorization;
  if (header) {
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    return match ? match[1] : undefined;
  }
  const fromQuery = (query as Record<string, unknown> | undefined)?.access_token;
  return typeof fromQuery === 'string' && fromQuery ? fromQuery : undefined;
}

/** True when the request carries a credential at all (a wrong one counts as a failed authentication). */
export function presentsCredentials(headers: { authorization?: string | undefined }, query: unknown): boolean {
  return Boolean(headers.authorization) || tokenFrom({}, query) !== undefined;
}

const unauthenticated = (why: string) => new EgressError('EGR_ERR_UNAUTHENTICATED', why);

export async function authenticate(token: string | undefined, keys: ReadonlyMap<string, string>): Promise<Caller> {
  if (!token) throw unauthenticated('no authorization header or access_token: send "Authorization: Bearer <token>"');
  let issuer: unknown;
  let alg: unknown;
  try {
    alg = decodeProtectedHeader(token).alg;
    issuer = decodeJwt(token).iss;
  } catch {
    throw unauthenticated('invalid token: not a JWT');
  }
  // Refused before any key is looked up; jwtVerify below insists on HS256 again.
  if (alg !== 'HS256') throw unauthenticated('invalid token: the signing algorithm must be HS256');
  if (typeof issuer !== 'string' || !issuer) throw unauthenticated('invalid token: no issuer (iss must be the API key)');
  const secret = keys.get(issuer);
  // An empty secret would let anyone sign (livekit-server refuses it too: ErrKeysMissing).
  if (!secret) throw unauthenticated('invalid token: unknown API key');
  let payload;
  try {
    ({ payload } = await jwtVerify(token, new TextEncoder().encode(secret), { algorithms: ['HS256'], issuer, clockTolerance: CLOCK_LEEWAY_SEC }));
  } catch (err) {
    throw unauthenticated(`invalid token: ${verifyFailure(err)}`);
  }
  const video = payload.video as { roomRecord?: unknown } | undefined;
  if (video?.roomRecord !== true) {
    throw new EgressError('EGR_ERR_PERMISSION_DENIED', 'permissions denied: the token needs the video.roomRecord grant');
  }
  return { apiKey: issuer, identity: typeof payload.sub === 'string' ? payload.sub : '' };
}

const CHECKED_CLAIMS = new Set(['iss', 'exp', 'iat', 'nbf']);

/** jose's reason, by its error code only: its messages are fixed today, but nothing of theirs reaches a caller unread. */
function verifyFailure(err: unknown): string {
  switch ((err as { code?: unknown } | null)?.code) {
    case 'ERR_JWT_EXPIRED':
      return 'expired (exp)';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const claim = (err as { claim?: unknown }).claim;
      if (claim === 'nbf') return 'not valid yet (nbf)';
      return typeof claim === 'string' && CHECKED_CLAIMS.has(claim) ? `invalid "${claim}" claim` : 'invalid claims';
    }
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'signature verification failed';
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return 'the signing algorithm must be HS256';
    default:
      return 'malformed';
  }
}
