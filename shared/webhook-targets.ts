/**
 * Where an egress's webhooks go: the operator's `webhook.urls` (config) and the request's own `webhooks`,
 * kept beside the record sealed (shared/secret-box.ts): a webhook URL's userinfo and query are credentials.
 * Job data (which Bull Board shows) names a destination only by reference (which list, which index) with
 * its redacted URL for display; the webhook worker looks the real URL up when it delivers.
 */
import type { LoadedConfig } from './config/load.ts';
import { redactUrlCredentials } from './redact.ts';
import type { Redis } from './redis.ts';
import { redisKeys } from './redis-keys.ts';
import type { SecretBox } from './secret-box.ts';
import { SealedStore } from './sealed-store.ts';

export const WEBHOOK_EVENTS = ['egress_started', 'egress_updated', 'egress_ended'] as const;
export type WebhookEventName = (typeof WEBHOOK_EVENTS)[number];

/** A per-request webhook destination (WebhookConfig), kept sealed beside the record: never in job data. */
export interface WebhookTarget {
  url: string;
  /** Name of the API key whose secret signs; empty: the service's webhook key. */
  apiKey: string;
  includeEvents: string[];
  excludeEvents: string[];
}

/** A destination as job data names it. */
export interface WebhookRef {
  source: 'config' | 'request';
  index: number;
}

/** A destination ready to deliver to. */
export interface WebhookDestination {
  url: string;
  apiKey: string;
  /** The field a url_policy refusal names. */
  field: string;
  /** The operator's own (config): exempt from allow / deny / deny_private, never from the always-denied. */
  operator: boolean;
}

/** The URL as logs, job data and EgressInfo may show it. */
export const displayUrl = redactUrlCredentials;

/** The key that signs the operator's webhooks and request webhooks that name none. */
export function webhookSigner(config: LoadedConfig): string {
  return config.webhook.api_key || config.api_key || (config.apiKeys.keys().next().value ?? '');
}

export function wants(target: Pick<WebhookTarget, 'includeEvents' | 'excludeEvents'>, event: WebhookEventName): boolean {
  return (target.includeEvents.length === 0 || target.includeEvents.includes(event)) && !target.excludeEvents.includes(event);
}

export class WebhookTargetStore {
  readonly #store: SealedStore<WebhookTarget[]>;

  /** `ttlSeconds`: longer than the record's, since webhook jobs (retried with backoff) may outlive it. */
  constructor(redis: Redis, box: SecretBox, options: { prefix: string; ttlSeconds: number }) {
    // Targets were kept in the clear by earlier versions: those are read once more, then expire.
    this.#store = new SealedStore(redis, box, {
      namespace: redisKeys.webhooks(options.prefix),
      ttlSeconds: options.ttlSeconds,
      readsLegacyPlain: true,
    });
  }

  async put(egressId: string, targets: readonly WebhookTarget[]): Promise<void> {
    if (targets.length > 0) await this.#store.put(egressId, [...targets]);
  }

  async get(egressId: string): Promise<WebhookTarget[]> {
    return (await this.#store.get(egressId)) ?? [];
  }

  /**
   * The destination `ref` names, or undefined when it is gone (the request's targets expired, or the config
   * no longer has that URL). A config URL is found by its index and must still show as `shown`; if the list
   * changed, the first URL that shows the same is taken.
   */
  async destination(egressId: string, ref: WebhookRef, shown: string, config: LoadedConfig): Promise<WebhookDestination | undefined> {
    const signer = webhookSigner(config);
    if (ref.source === 'config') {
      const urls = config.webhook.urls;
      const index = displayUrl(urls[ref.index] ?? '') === shown ? ref.index : urls.findIndex((url) => displayUrl(url) === shown);
      if (index < 0) return undefined;
      return { url: urls[index]!, apiKey: signer, field: `webhook.urls[${index}]`, operator: true };
    }
    const target = (await this.get(egressId))[ref.index];
    if (!target) return undefined;
    return { url: target.url, apiKey: target.apiKey || signer, field: `webhooks[${ref.index}].url`, operator: false };
  }
}
