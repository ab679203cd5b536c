/** A raw Twirp JSON call, as curl would make it: the status and the parsed answer (an error's code, msg, meta). */
import { AccessToken } from 'livekit-server-sdk';

export interface TwirpAnswer {
  status: number;
  json: { code?: string; msg?: string; meta?: Record<string, string>; [key: string]: unknown };
}

export async function twirpCall(baseUrl: string, method: string, body: unknown, key: { apiKey: string; apiSecret: string }): Promise<TwirpAnswer> {
  const token = new AccessToken(key.apiKey, key.apiSecret, { ttl: 600, identity: 'security-test' });
  token.addGrant({ roomRecord: true });
  const res = await fetch(`${baseUrl}/twirp/livekit.Egress/${method}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await token.toJwt()}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as TwirpAnswer['json'] };
}

/** Polls `what` until it holds; throws naming `description` after `timeoutMs`. */
export async function until(what: () => boolean | Promise<boolean>, description: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await what())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${description}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
