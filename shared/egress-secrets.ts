/**
 * The secrets of one egress that its worker needs and nobody else may read: the real stream URLs (with
 * their keys) and the request's storage credentials. Kept beside the record, sealed (shared/secret-box.ts),
 * never in job data or EgressInfo.
 */
import { createHash } from 'node:crypto';
import type { Redis } from './redis.ts';
import { redisKeys } from './redis-keys.ts';
import type { SecretBox } from './secret-box.ts';
import { SealedStore } from './sealed-store.ts';
import { parseStreamUrl, streamIdOf } from './stream-destination.ts';
import { redactStreamUrl } from './redact.ts';

/** One stream URL the egress has had. */
export interface SealedStream {
  /** Its identity (`streamIdOf`): what UpdateStream matches a URL to remove against. */
  id: string;
  /** The URL to send to, as validation rebuilt it (stream key and all). */
  url: string;
  /** What StreamInfo shows. */
  redacted: string;
}

export interface EgressSecrets {
  /** The protocol of the egress's stream output, when it has one (even with no URL yet). */
  streamProtocol?: 'rtmp' | 'srt' | 'websocket';
  /**
   * Every stream URL the egress has had, in the order they were added; only ever appended to. Entry i is
   * StreamInfo i of the egress (shared/stream-results.ts): StreamInfo shows only the redacted URL, which two
   * streams may share, so the position ties the two together.
   */
  streams?: SealedStream[];
  /** Before `streams`: real URLs by their redacted form. Read (into `streams`) for egresses sealed by an older version. */
  streamUrls?: Record<string, string>;
  /** The request's upload configs (S3Upload, GCPUpload, …, credentials included), by StorageTarget ref. */
  uploads?: Record<string, SealedUpload>;
}

/** The secrets as read back: `streams` always there. */
export type OpenedSecrets = Omit<EgressSecrets, 'streamUrls' | 'streams'> & { streams: SealedStream[] };

/** One upload config message of a request: its oneof case and its protobuf JSON. */
export interface SealedUpload {
  kind: 's3' | 'gcp' | 'azure' | 'aliOSS';
  json: string;
}

/** Replaces KEYS[1] with ARGV[2] (expiring in ARGV[3] s) only if it still holds ARGV[1]. */
function sealedStreamOf(url: string, redacted: string): SealedStream {
  let id: string;
  try {
    id = streamIdOf(parseStreamUrl(url));
  } catch {
    // Sealed by a version that checked less: the worker's own parse refuses to connect to it.
    id = createHash('sha256').update(url).digest('hex');
  }
  return { id, url, redacted };
}

function opened(secrets: EgressSecrets): OpenedSecrets {
  const { streamUrls, streams, ...rest } = secrets;
  return { ...rest, streams: streams ?? Object.entries(streamUrls ?? {}).map(([redacted, url]) => sealedStreamOf(url, redacted)) };
}

/** A SealedStream for a URL validation rebuilt. */
export function sealStream(target: { id: string; url: string }): SealedStream {
  return { id: target.id, url: target.url, redacted: redactStreamUrl(target.url) };
}

export class EgressSecretStore {
  readonly #store: SealedStore<EgressSecrets>;

  constructor(redis: Redis, box: SecretBox, options: { prefix: string; ttlSeconds: number }) {
    this.#store = new SealedStore(redis, box, { namespace: redisKeys.secrets(options.prefix), ttlSeconds: options.ttlSeconds });
  }

  async put(egressId: string, secrets: EgressSecrets): Promise<void> {
    await this.#store.put(egressId, secrets);
  }

  async get(egressId: string): Promise<OpenedSecrets> {
    return opened((await this.#store.get(egressId)) ?? {});
  }

  /**
   * Compare-and-set: two UpdateStream calls at once each see the other's streams, so the list stays
   * append-only and in one order. `change` may run more than once; a throw leaves it as it was.
   */
  async update(egressId: string, change: (secrets: OpenedSecrets) => void): Promise<OpenedSecrets> {
    let changed: OpenedSecrets | undefined;
    await this.#store.update(egressId, (stored) => {
      changed = opened(stored ?? {});
      change(changed);
      return changed;
    });
    return changed!;
  }

  delete(egressId: string): Promise<number> {
    return this.#store.delete(egressId);
  }
}
