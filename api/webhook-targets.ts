/**
 * A request's own webhooks (`webhooks: [{url, signing_key, filter_params}]`), checked before anything is
 * stored: how many, each URL (http(s), length, url_policy: permission_denied naming `webhooks[i].url`), the
 * signing key, and the event filters.
 *
 * `signing_key` may only be the caller's own key unless `webhook.allow_other_signing_keys` is on: otherwise
 * one key's caller could make webhooks that verify as another key's. Refused with invalid_argument, the
 * code validation uses for every field, and with the same answer whether the named key exists or not, so
 * the refusal tells nobody which keys the deployment has.
 *
 * Filters: only the three egress events (a request's webhooks never carry another); an unknown name is
 * refused rather than ignored, since an include list that matches nothing would silently send nothing.
 */
import type { WebhookConfig } from '@livekit/protocol';
import type { LoadedConfig } from '../shared/config/load.ts';
import { invalidField } from '../shared/errors.ts';
import { checkUrl, type UrlPolicy } from '../shared/url-policy.ts';
import { WEBHOOK_EVENTS, type WebhookTarget } from '../shared/webhook-targets.ts';

export interface WebhookCheckDeps {
  config: Pick<LoadedConfig, 'apiKeys' | 'limits' | 'webhook'>;
  policy: UrlPolicy;
}

const EVENT_NAMES: ReadonlySet<string> = new Set(WEBHOOK_EVENTS);

function eventList(names: readonly string[], field: string): string[] {
  for (const name of names) if (!EVENT_NAMES.has(name)) throw invalidField(field, `events are ${WEBHOOK_EVENTS.join(', ')}`);
  return [...new Set(names)];
}

function signingKey(named: string, callerKey: string, field: string, config: WebhookCheckDeps['config']): string {
  if (!named || named === callerKey) return callerKey;
  if (!config.webhook.allow_other_signing_keys) throw invalidField(field, "must be the caller's own API key");
  if (!config.apiKeys.has(named)) throw invalidField(field, 'must name a configured API key');
  return named;
}

async function checkedUrl(raw: string, field: string, deps: WebhookCheckDeps): Promise<string> {
  const max = deps.config.limits.max_url_length;
  if (raw.length > max) throw invalidField(field, `longer than ${max} characters`);
  const url = URL.canParse(raw) ? new URL(raw) : undefined;
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) throw invalidField(field, 'must be an http(s) URL');
  await checkUrl(raw, field, deps.policy);
  return raw;
}

/** The request's webhooks as sealed targets; throws naming the first field at fault. */
export async function webhookTargets(webhooks: readonly WebhookConfig[], callerKey: string, deps: WebhookCheckDeps): Promise<WebhookTarget[]> {
  const max = deps.config.limits.max_webhooks;
  if (webhooks.length > max) throw invalidField('webhooks', `at most ${max}`);
  const targets: WebhookTarget[] = [];
  for (const [i, hook] of webhooks.entries()) {
    // The cheap checks of every field first; the URL's check may resolve its name.
    const apiKey = signingKey(hook.signingKey, callerKey, `webhooks[${i}].signing_key`, deps.config);
    const includeEvents = eventList(hook.filterParams?.includeEvents ?? [], `webhooks[${i}].filter_params.include_events`);
    const excludeEvents = eventList(hook.filterParams?.excludeEvents ?? [], `webhooks[${i}].filter_params.exclude_events`);
    const url = await checkedUrl(hook.url, `webhooks[${i}].url`, deps);
    targets.push({ url, apiKey, includeEvents, excludeEvents });
  }
  return targets;
}
