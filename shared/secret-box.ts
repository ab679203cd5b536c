/**
 * Secrets at rest (stream URLs with their keys, a request's storage credentials and webhook URLs): AES-256-GCM with a key from
 * config (`secrets_key`, 32 bytes base64), or one derived from the API secret when none is set. What Redis,
 * Bull Board and a Redis dump see is ciphertext.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const VERSION = 'v1';

export class SecretBox {
  private readonly key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('a secrets key is 32 bytes');
    this.key = key;
  }

  /** From `secrets_key` (base64), else derived from `fallbackSecret` (the API secret) with HKDF. */
  static fromConfig(secretsKey: string, fallbackSecret: string): SecretBox {
    if (secretsKey) return new SecretBox(Buffer.from(secretsKey, 'base64'));
    return new SecretBox(Buffer.from(hkdfSync('sha256', fallbackSecret, 'egress-queue', 'secrets at rest v1', 32)));
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, iv.toString('base64'), cipher.getAuthTag().toString('base64'), body.toString('base64')].join('.');
  }

  open(sealed: string): string {
    const [version, iv, tag, body] = sealed.split('.');
    if (version !== VERSION || !iv || !tag || body === undefined) throw new Error('not a sealed secret');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8');
  }
}
