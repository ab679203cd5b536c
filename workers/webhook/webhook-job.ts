/**
 * Delivers one webhook: POST the WebhookEvent JSON, signed as livekit-server signs it, to the destination
 * the job names by reference (its real URL is opened from the sealed targets, or read from the config, only
 * now). A non-2xx answer or a network error throws, and BullMQ retries with exponential backoff. A
 * destination url_policy refuses (checked on every attempt, on the address connected to) fails for good:
 * retrying cannot change the answer.
 */
import { UnrecoverableError, type Job } from 'bullmq';
import type { ServiceContext } from '../../shared/context.ts';
import { policyRefusal } from '../../shared/guarded-agents.ts';
import type { WebhookJobData } from '../../shared/queues.ts';
import { hostOfUrl } from '../../shared/address-forms.ts';
import { urlPolicyOf } from '../../shared/url-policy.ts';
import { displayUrl, type WebhookDestination } from '../../shared/webhook-targets.ts';
import { signWebhook, WEBHOOK_CONTENT_TYPE } from '../../shared/webhook-signing.ts';
import { postWebhook } from './webhook-post.ts';

/** Jobs queued by a version that put the URL itself in job data: delivered once more, as a request's. */
interface LegacyJobData {
  egressId: string;
  event: WebhookJobData['event'];
  url: string;
  apiKey: string;
  body: string;
}

async function destinationOf(ctx: ServiceContext, data: WebhookJobData | LegacyJobData): Promise<WebhookDestination | undefined> {
  if (!('target' in data)) return { url: data.url, apiKey: data.apiKey, field: 'webhook url', operator: false };
  return ctx.events.webhooks.destination(data.egressId, data.target, data.url, ctx.config);
}

export function webhookProcessor(ctx: ServiceContext) {
  const policy = urlPolicyOf(ctx.config);
  return async (job: Job<WebhookJobData | LegacyJobData>): Promise<{ status: number }> => {
    const { body, egressId, event } = job.data;
    const shown = displayUrl(job.data.url);
    const destination = await destinationOf(ctx, job.data);
    if (!destination)
      throw new UnrecoverableError(`webhook ${event} to ${shown}: the destination is gone (expired with the egress, or no longer configured)`);
    const { url, apiKey, field, operator } = destination;
    const secret = ctx.config.apiKeys.get(apiKey);
    if (secret === undefined) throw new UnrecoverableError(`webhook signing key ${apiKey} is no longer configured`);
    const origin = new URL(url).origin;
    let status: number;
    try {
      status = await postWebhook(
        {
          url,
          body,
          timeoutMs: ctx.config.webhook.timeout,
          headers: { 'Content-Type': WEBHOOK_CONTENT_TYPE, Authorization: await signWebhook(body, apiKey, secret) },
        },
        { field, policy, options: operator ? { exemptHosts: [hostOfUrl(url)] } : {} },
      );
    } catch (err) {
      const refusal = policyRefusal(err);
      if (refusal) {
        ctx.log.warn({ egressId, event, url: shown, reason: refusal.message }, 'webhook refused by url_policy; not retried');
        throw new UnrecoverableError(`webhook ${event} to ${origin} refused by url_policy: ${refusal.message}`);
      }
      throw new Error(`webhook ${event} to ${origin} failed: ${(err as Error).message}`, { cause: err });
    }
    if (status >= 300 && status < 400)
      throw new Error(`webhook ${event} to ${origin} answered HTTP ${status}: redirects are not followed; configure the final URL`);
    if (status < 200 || status >= 300) throw new Error(`webhook ${event} to ${origin} answered HTTP ${status}`);
    ctx.log.debug({ egressId, event, url: shown, status }, 'webhook delivered');
    return { status };
  };
}
