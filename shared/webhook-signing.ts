/**
 * Webhook signatures exactly as livekit-server makes them, so livekit-server-sdk's WebhookReceiver accepts
 * ours: the `Authorization` header is an HS256 JWT issued by the API key, carrying `sha256` = base64 of the
 * SHA-256 of the body, valid a few minutes.
 */
import { createHash } from 'node:crypto';
import { SignJWT } from 'jose';

export const WEBHOOK_CONTENT_TYPE = 'application/webhook+json';
const VALIDITY_SECONDS = 5 * 60;

export function bodyDigest(body: string): string {
  return createHash('sha256').update(body).digest('base64');
}

export async function signWebhook(body: string, apiKey: string, apiSecret: string): Promise<string> {
  return new SignJWT({ sha256: bodyDigest(body) })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(apiKey)
    .setNotBefore('0s')
    .setIssuedAt()
    .setExpirationTime(`${VALIDITY_SECONDS}s`)
    .sign(new TextEncoder().encode(apiSecret));
}
