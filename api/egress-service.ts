/**
 * The RPC handlers of livekit.Egress. A Start RPC validates, stores the EgressInfo (STARTING), queues the
 * job (job id = egress id) and answers at once: it never waits for a recorder.
 */
import {
  EgressInfo,
  EgressSourceType,
  EgressStatus,
  ListEgressRequest,
  ListEgressResponse,
  ParticipantEgressRequest,
  RoomCompositeEgressRequest,
  StartEgressRequest,
  StopEgressRequest,
  StreamInfo,
  StreamInfo_Status,
  TrackCompositeEgressRequest,
  TrackEgressRequest,
  UpdateLayoutRequest,
  UpdateStreamRequest,
  WebEgressRequest,
  type WebhookConfig,
} from '@livekit/protocol';
import type { ServiceContext } from '../shared/context.ts';
import { poolOf, type EgressPlan } from '../shared/egress-plan.ts';
import type { WebhookTarget } from '../shared/egress-events.ts';
import { isTerminal } from '../shared/egress-store.ts';
import { EgressError, failedPrecondition, invalidField, notFound } from '../shared/errors.ts';
import { newEgressId, nowNanos } from '../shared/ids.ts';
import { HOUSEKEEPING_QUEUE, STOP_BEFORE_START, type RecordJobData, type RecordQueueName, type StartDeadlineJobData } from '../shared/queues.ts';
import { removeWaitingJob } from '../shared/queued-job.ts';
import type { EgressSecrets } from '../shared/egress-secrets.ts';
import { redactRequest } from '../shared/redact.ts';
import { secretsOf, updateStreamTarget, validateRequest, type AnyStartRequest } from './validate/index.ts';
import type { Caller } from './auth.ts';
import { pushLayout } from './room-layout.ts';
import { RateLimiter } from '../shared/rate-limit.ts';
import { checkUrl, urlPolicyOf, type UrlPolicy } from '../shared/url-policy.ts';

export type StartRequest = AnyStartRequest;

/** Options of a Start RPC beyond LiveKit's request message. */
export interface StartOptions {
  maxDurationSec?: number;
}

export type EgressServiceDeps = Pick<ServiceContext, 'config' | 'events' | 'queues' | 'control' | 'secrets' | 'log' | 'redis'>;

function requestCase(request: StartRequest): EgressInfo['request'] {
  if (request instanceof RoomCompositeEgressRequest) return { case: 'roomComposite', value: redactRequest(request) };
  if (request instanceof WebEgressRequest) return { case: 'web', value: redactRequest(request) };
  if (request instanceof ParticipantEgressRequest) return { case: 'participant', value: redactRequest(request) };
  if (request instanceof TrackCompositeEgressRequest) return { case: 'trackComposite', value: redactRequest(request) };
  if (request instanceof TrackEgressRequest) return { case: 'track', value: redactRequest(request) };
  return { case: 'egress', value: redactRequest(request as StartEgressRequest) };
}

/** Chrome renders web and template egress; everything else joins the room through the SDK. */
function sourceTypeOf(plan: EgressPlan): EgressSourceType {
  return plan.source.kind === 'web' || plan.source.kind === 'template' ? EgressSourceType.WEB : EgressSourceType.SDK;
}

/** The page a Chrome recorder would open on the request's say (built-in templates are the operator's). */
function requestedPage(plan: EgressPlan): { url: string; field: string } | undefined {
  if (plan.source.kind === 'web') return { url: plan.source.url, field: 'url' };
  if (plan.source.kind === 'template' && plan.source.baseUrl) return { url: plan.source.baseUrl, field: 'custom_base_url' };
  return undefined;
}

export class EgressService {
  private readonly deps: EgressServiceDeps;
  private readonly limiter: RateLimiter;
  private readonly urlPolicy: UrlPolicy;

  constructor(deps: EgressServiceDeps) {
    this.deps = deps;
    this.limiter = new RateLimiter(deps.redis, deps.config.redis.prefix);
    this.urlPolicy = urlPolicyOf(deps.config);
  }

  async start(request: StartRequest, caller: Caller, options: StartOptions = {}): Promise<EgressInfo> {
    const { config, events, queues, log } = this.deps;
    await this.limiter.take('start', caller.apiKey, config.rate_limits.start_per_minute);
    const egressId = newEgressId();
    const now = Date.now();
    const maxDurationSec = options.maxDurationSec ?? config.max_duration;
    const plan = { ...validateRequest(request, { egressId, now }), ...(maxDurationSec ? { maxDurationSec } : {}) };
    const page = requestedPage(plan);
    if (page) await checkUrl(page.url, page.field, this.urlPolicy);
    const secrets = secretsOf(request, plan);
    await this.checkStreamDestinations(secrets);
    await this.checkStorageDestinations(request);
    const targets = await this.webhookTargets(request.webhooks, caller);
    const info = new EgressInfo({
      egressId,
      roomName: plan.roomName,
      sourceType: sourceTypeOf(plan),
      status: EgressStatus.EGRESS_STARTING,
      startedAt: nowNanos(),
      updatedAt: nowNanos(),
      request: requestCase(request),
    });
    if (secrets.streamProtocol || Object.keys(secrets.uploads ?? {}).length > 0) await this.deps.secrets.put(egressId, secrets);
    await events.create(info, targets);
    const queue: RecordQueueName = poolOf(plan);
    await queues.get(queue).add(plan.requestKind, { plan } satisfies RecordJobData, { jobId: egressId });
    await queues.get(HOUSEKEEPING_QUEUE).add('start-deadline', { egressId, queue } satisfies StartDeadlineJobData, {
      jobId: `start-deadline-${egressId}`,
      delay: config.start_deadline * 1000,
    });
    log.info({ egressId, kind: plan.requestKind, queue }, 'egress queued');
    return info;
  }

  /** The stream and WebSocket URLs of a request, against url_policy. */
  private async checkStreamDestinations(_secrets: EgressSecrets): Promise<void> {}

  /** The storage endpoints and proxies a request names, against url_policy. */
  private async checkStorageDestinations(_request: StartRequest): Promise<void> {}

  /** Per-request webhooks. `signing_key` names one of our API keys, whose secret signs; empty = the caller's. */
  private async webhookTargets(webhooks: WebhookConfig[], caller: Caller): Promise<WebhookTarget[]> {
    return webhooks.map((hook, i) => {
      let url: URL | undefined;
      try {
        url = new URL(hook.url);
      } catch {
        // reported below
      }
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw invalidField(`webhooks[${i}].url`, 'must be an http(s) URL');
      if (hook.signingKey && !this.deps.config.apiKeys.has(hook.signingKey)) {
        throw invalidField(`webhooks[${i}].signing_key`, 'must name a configured API key');
      }
      return {
        url: hook.url,
        apiKey: hook.signingKey || caller.apiKey,
        includeEvents: hook.filterParams?.includeEvents ?? [],
        excludeEvents: hook.filterParams?.excludeEvents ?? [],
      };
    });
  }

  private async existing(egressId: string, verb: string): Promise<EgressInfo> {
    if (!egressId) throw invalidField('egress_id');
    const info = await this.deps.events.store.get(egressId);
    if (!info) throw notFound('egress does not exist');
    if (isTerminal(info.status) || info.status === EgressStatus.EGRESS_ENDING) {
      throw failedPrecondition(`egress with status ${EgressStatus[info.status]} cannot be ${verb}`);
    }
    return info;
  }

  async stop(request: StopEgressRequest): Promise<EgressInfo> {
    const { events, queues, control, log } = this.deps;
    const info = await this.existing(request.egressId, 'stopped');
    const { egressId } = info;
    if (info.status === EgressStatus.EGRESS_STARTING) {
      // The mark comes first: a worker picking the job up from now on sees it and does not record.
      await control.requestStop(egressId, 'StopEgress API');
      if (await removeWaitingJob(queues, egressId)) {
        const ended = await events.end(egressId, { status: EgressStatus.EGRESS_ABORTED, error: STOP_BEFORE_START, errorCode: 412, reason: 'StopEgress API' });
        log.info({ egressId }, 'egress stopped while queued');
        return ended ?? info;
      }
      // A worker holds it: it heard the stop and ends it ABORTED (or, if it just went ACTIVE, finalizes it).
      return (await events.store.get(egressId)) ?? info;
    }
    const ending = await events.markEnding(egressId, 'StopEgress API');
    const heard = await control.requestStop(egressId, 'StopEgress API');
    log.info({ egressId, heard }, 'stop requested');
    return ending ?? (await events.store.get(egressId)) ?? info;
  }

  async list(request: ListEgressRequest): Promise<ListEgressResponse> {
    const items = await this.deps.events.store.list({ egressId: request.egressId, roomName: request.roomName, active: request.active });
    return new ListEgressResponse({ items });
  }

  /**
   * Adds, then removes stream URLs (LiveKit's order). The API records the change — real URLs sealed,
   * StreamInfo entries added or FINISHED — and tells the worker, which connects or drops them; a URL the
   * worker cannot reach turns FAILED there. Removing the last stream of a stream-only egress ends it.
   */
  async updateStream(request: UpdateStreamRequest): Promise<EgressInfo> {
    const { egressId } = request;
    const info = await this.existing(egressId, 'updated');
    const secrets = await this.deps.secrets.get(egressId);
    const protocol = secrets.streamProtocol;
    if (!protocol) throw new EgressError('EGR_ERR_INVALID_ARGUMENT', 'UpdateStream called on non-streaming egress');
    const added = request.addOutputUrls.map((url) => updateStreamTarget(url, protocol)).filter((t) => !(t.redacted in secrets.streamUrls));
    const removed = request.removeOutputUrls.map((url) => updateStreamTarget(url, protocol).redacted);
    for (const redacted of removed) {
      const known = info.streamResults.some((s) => s.url === redacted && s.status === StreamInfo_Status.ACTIVE);
      if (!known && !added.some((t) => t.redacted === redacted)) throw notFound(`stream ${redacted} not found`);
    }
    await this.deps.secrets.update(egressId, (current) => {
      for (const t of added) current.streamUrls[t.redacted] = t.url;
    });
    const now = nowNanos();
    const updated = await this.deps.events.update(
      egressId,
      (current) => {
        for (const t of added) current.streamResults.push(new StreamInfo({ url: t.redacted, status: StreamInfo_Status.ACTIVE }));
        for (const stream of current.streamResults) {
          if (!removed.includes(stream.url) || stream.status !== StreamInfo_Status.ACTIVE) continue;
          stream.status = StreamInfo_Status.FINISHED;
          stream.endedAt = now;
          stream.duration = stream.startedAt > 0n ? now - stream.startedAt : 0n;
        }
      },
      { announce: true },
    );
    await this.deps.control.send(egressId, { type: 'update_stream' });
    this.deps.log.info({ egressId, added: added.map((t) => t.redacted), removed }, 'streams updated');
    return updated ?? info;
  }

  async updateLayout(request: UpdateLayoutRequest): Promise<EgressInfo> {
    const info = await this.existing(request.egressId, 'updated');
    if (info.request.case !== 'roomComposite') throw new EgressError('EGR_ERR_INVALID_ARGUMENT', 'UpdateLayout called on a non-room-composite egress');
    const updated = await this.deps.events.update(request.egressId, (current) => {
      if (current.request.case !== 'roomComposite') return false;
      current.request.value.layout = request.layout;
    });
    // The recorder may not have joined yet (STARTING): it then opens the template with the stored layout.
    await pushLayout(this.deps.config, info.roomName, request.egressId, request.layout).catch((err: Error) =>
      this.deps.log.warn({ egressId: request.egressId, err: err.message }, 'could not pass the layout to the recorder'),
    );
    return updated ?? info;
  }
}
