/**
 * The secrets of one egress that its worker needs and nobody else may read: the real stream URLs (with
 * their keys) and the request's storage credentials. Kept beside the record, sealed (shared/secret-box.ts),
 * never in job data or EgressInfo.
 */
import type { Redis } from './redis.ts';
import type { SecretBox } from './secret-box.ts';

export interface EgressSecrets {
  /** The protocol of the egress's stream output, when it has one (even with no URL yet). */
  streamProtocol?: 'rtmp' | 'srt' | 'websocket';
  /** Real stream URLs, by their redacted form (what StreamInfo and UpdateStream's callers see). */
  streamUrls: Record<string, string>;
  /** The request's upload configs (S3Upload, GCPUpload, …, credentials included), by StorageTarget ref. */
  uploads?: Record<string, SealedUpload>;
}

/** One upload config message of a request: its oneof case and its protobuf JSON. */
export interface SealedUpload {
  kind: 's3' | 'gcp' | 'azure' | 'aliOSS';
  json: string;
}

export class EgressSecretStore {
  private readonly redis: Redis;
  private readonly box: SecretBox;
  private readonly prefix: string;
  private readonly ttlSeconds: number;

  constructor(redis: Redis, box: SecretBox, options: { prefix: string; ttlSeconds: number }) {
    this.redis = redis;
    this.box = box;
    this.prefix = `${options.prefix}:store:secrets`;
    this.ttlSeconds = Math.round(options.ttlSeconds);
  }

  private key = (egressId: string) => `${this.prefix}:${egressId}`;

  async put(egressId: string, secrets: EgressSecrets): Promise<void> {
    await this.redis.set(this.key(egressId), this.box.seal(JSON.stringify(secrets)), 'EX', this.ttlSeconds);
  }

  async get(egressId: string): Promise<EgressSecrets> {
    const sealed = await this.redis.get(this.key(egressId));
    return sealed ? (JSON.parse(this.box.open(sealed)) as EgressSecrets) : { streamUrls: {} };
  }

  /** Read-modify-write; only the API changes an egress's secrets (UpdateStream), so no CAS is needed. */
  async update(egressId: string, change: (secrets: EgressSecrets) => void): Promise<EgressSecrets> {
    const secrets = await this.get(egressId);
    change(secrets);
    await this.put(egressId, secrets);
    return secrets;
  }

  delete(egressId: string): Promise<number> {
    return this.redis.del(this.key(egressId));
  }
}
