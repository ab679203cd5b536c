/**
 * Delivers one webhook: POST the WebhookEvent JSON, signed as livekit-server signs it. A non-2xx answer
 * or a network error throws, and BullMQ retries with exponential backoff.
 */
import { UnrecoverableError, type Job } from 'bullmq';
import type { ServiceContext } from '../../shared/context.ts';
import type { WebhookJobData } from '../../shared/queues.ts';
import { signWebhook, WEBHOOK_CONTENT_TYPE } from '../../shared/webhook-signing.ts';

export function webhookProcessor(ctx: ServiceContext) {
  return async (job: Job<WebhookJobData>): Promise<{ status: number }> => {
    const { url, apiKey, body, egressId, event } = job.data;
    const secret = ctx.config.apiKeys.get(apiKey);
    if (secret === undefined) throw new UnrecoverableError(`webhook signing key ${apiKey} is no longer configured`);
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': WEBHOOK_CONTENT_TYPE, Authorization: await signWebhook(body, apiKey, secret) },
      body,
      signal: AbortSignal.timeout(ctx.config.webhook.timeout),
    });
    await response.body?.cancel().catch(() => undefined);
    if (!response.ok) throw new Error(`webhook ${event} to ${new URL(url).origin} answered HTTP ${response.status}`);
    ctx.log.debug({ egressId, event, status: response.status }, 'webhook delivered');
    return { status: response.status };
  };
}
