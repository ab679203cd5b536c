/**
 * The RPC handlers of livekit.Egress. A Start RPC validates, stores the EgressInfo (STARTING), queues the
 * job (job id = egress id) and answers at once: it never waits for a recorder.
 */
import {
  EgressInfo,
  EgressSourceType,
  EgressStatus,
  ListEgressResponse,
  StreamInfo_Status,
  TrackEgressRequest,
  type ListEgressRequest,
  type StopEgressRequest,
  type UpdateLayoutRequest,
  type UpdateStreamRequest,
  type WebhookConfig,
} from '@livekit/protocol';
import type { ServiceContext } from '../shared/context.ts';
import { STOP_EGRESS_API } from '../shared/control.ts';
import { poolOf, type EgressPlan } from '../shared/egress-plan.ts';
import type { WebhookTarget } from '../shared/egress-events.ts';
import { isTerminal } from '../shared/egress-store.ts';
import { EgressError, ERRORS, failedPrecondition, invalidField, notFound } from '../shared/errors.ts';
import { newEgressId, nowNanos } from '../shared/ids.ts';
import {
  HOUSEKEEPING_QUEUE,
  STOP_BEFORE_START,
  type HousekeepingJobName,
  type RecordJobData,
  type RecordQueueName,
  type StartDeadlineJobData,
} from '../shared/queues.ts';
import { removeWaitingJob } from '../shared/queued-job.ts';
import type { EgressSecrets } from '../shared/egress-secrets.ts';
import { updateStreamTarget, validateRequest, type AnyStartRequest } from './validate/index.ts';
import { checkUpdateStreamBounds, planStreamUpdate, uniqueTargets, type StreamUpdate } from './validate/update-stream.ts';
import { alignStreamResults } from '../shared/stream-results.ts';
import { parseStreamUrl } from '../shared/stream-destination.ts';
import type { Caller } from './auth.ts';
import { checkStorageDestinations } from './storage-destinations.ts';
import { webhookTargets } from './webhook-targets.ts';
import { pushLayout } from '../shared/room-layout.ts';
import { layoutOf, setLayout } from '../shared/egress-layout.ts';
import { RateLimiter } from '../shared/rate-limit.ts';
import { checkHost, checkUrl, urlPolicyOf, type UrlPolicy } from '../shared/url-policy.ts';

export type StartRequest = AnyStartRequest;

/** Options of a Start RPC beyond LiveKit's request message. */
export interface StartOptions {
  maxDurationSec?: number;
}

export type EgressServiceDeps = Pick<ServiceContext, 'config' | 'events' | 'queues' | 'control' | 'secrets' | 'log' | 'redis'>;

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
    const valid = validateRequest(request, { egressId, now, limits: config.limits });
    const { secrets } = valid;
    const plan = { ...valid.plan, ...(maxDurationSec ? { maxDurationSec } : {}) };
    const page = requestedPage(plan);
    if (page) await checkUrl(page.url, page.field, this.urlPolicy);
    await this.checkStreamDestinations(secrets, request);
    await this.checkStorageDestinations(request);
    const targets = await this.webhookTargets(request.webhooks, caller);
    const info = new EgressInfo({
      egressId,
      roomName: plan.roomName,
      sourceType: sourceTypeOf(plan),
      status: EgressStatus.EGRESS_STARTING,
      startedAt: nowNanos(),
      updatedAt: nowNanos(),
      request: valid.request,
    });
    if (secrets.streamProtocol || Object.keys(secrets.uploads ?? {}).length > 0) await this.deps.secrets.put(egressId, secrets);
    await events.create(info, targets);
    const queue: RecordQueueName = poolOf(plan);
    await queues.get(queue).add(plan.requestKind, { plan } satisfies RecordJobData, { jobId: egressId });
    await queues.get(HOUSEKEEPING_QUEUE).add('start-deadline' satisfies HousekeepingJobName, { egressId, queue } satisfies StartDeadlineJobData, {
      jobId: `start-deadline-${egressId}`,
      delay: config.start_deadline * 1000,
    });
    log.info({ egressId, kind: plan.requestKind, queue }, 'egress queued');
    return info;
  }

  /**
   * The stream and WebSocket URLs of a request, against url_policy: each host as ffmpeg or `ws` will read
   * it (validation rebuilt the URLs from their parts). The worker checks again at every connection.
   */
  private async checkStreamDestinations(secrets: EgressSecrets, request: StartRequest): Promise<void> {
    const field = request instanceof TrackEgressRequest ? 'websocket_url' : 'stream url';
    for (const stream of secrets.streams ?? []) await checkHost(parseStreamUrl(stream.url).host, field, this.urlPolicy);
  }

  /** The storage endpoints and proxies a request names, against url_policy (api/storage-destinations.ts). */
  private async checkStorageDestinations(request: StartRequest): Promise<void> {
    await checkStorageDestinations(request, { policy: this.urlPolicy, maxUrlLength: this.deps.config.limits.max_url_length });
  }

  /** Per-request webhooks, checked (api/webhook-targets.ts): `signing_key` is the caller's own key unless the config allows others. */
  private async webhookTargets(webhooks: WebhookConfig[], caller: Caller): Promise<WebhookTarget[]> {
    return webhookTargets(webhooks, caller.apiKey, { config: this.deps.config, policy: this.urlPolicy });
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
      await control.requestStop(egressId, STOP_EGRESS_API);
      if (await removeWaitingJob(queues, egressId)) {
        const ended = await events.end(egressId, {
          status: EgressStatus.EGRESS_ABORTED,
          error: STOP_BEFORE_START,
          errorCode: ERRORS.EGR_ERR_ABORTED_BEFORE_START.egressCode,
          reason: STOP_EGRESS_API,
        });
        log.info({ egressId }, 'egress stopped while queued');
        return ended ?? info;
      }
      // A worker holds it: it heard the stop and ends it ABORTED (or, if it just went ACTIVE, finalizes it).
      return (await events.store.get(egressId)) ?? info;
    }
    const ending = await events.markEnding(egressId, STOP_EGRESS_API);
    const heard = await control.requestStop(egressId, STOP_EGRESS_API);
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
   * Streams are found by their real URL (api/validate/update-stream.ts); StreamInfo entry i is sealed
   * stream i (shared/stream-results.ts).
   */
  async updateStream(request: UpdateStreamRequest): Promise<EgressInfo> {
    const { egressId } = request;
    const { config, secrets: store, events, log } = this.deps;
    checkUpdateStreamBounds(request, config.limits);
    const info = await this.existing(egressId, 'updated');
    const protocol = (await store.get(egressId)).streamProtocol;
    if (!protocol) throw new EgressError('EGR_ERR_INVALID_ARGUMENT', 'UpdateStream called on non-streaming egress');
    if (protocol === 'websocket') throw new EgressError('EGR_ERR_INVALID_ARGUMENT', 'UpdateStream cannot change a WebSocket output');
    const add = uniqueTargets(request.addOutputUrls.map((url) => updateStreamTarget(url, protocol)));
    const remove = request.removeOutputUrls.map((url) => updateStreamTarget(url, protocol));
    for (const target of add) await checkHost(target.host, 'stream url', this.urlPolicy);
    let change: StreamUpdate = { added: [], removed: [] };
    // Compare-and-set: a concurrent UpdateStream's streams are counted, and positions stay in one order.
    const sealed = await store.update(egressId, (current) => {
      change = planStreamUpdate(current.streams, info.streamResults, add, remove, config.limits.max_stream_urls);
      current.streams.push(...change.added);
    });
    const now = nowNanos();
    const updated = await events.update(
      egressId,
      (current) => {
        alignStreamResults(current, sealed.streams);
        for (const position of change.removed) {
          const stream = current.streamResults[position];
          if (stream?.status !== StreamInfo_Status.ACTIVE) continue;
          stream.status = StreamInfo_Status.FINISHED;
          stream.endedAt = now;
          stream.duration = stream.startedAt > 0n ? now - stream.startedAt : 0n;
        }
      },
      { announce: true },
    );
    await this.deps.control.send(egressId, { type: 'update_stream' });
    const removed = change.removed.map((position) => sealed.streams[position]!.redacted);
    log.info({ egressId, added: change.added.map((s) => s.redacted), removed }, 'streams updated');
    return updated ?? info;
  }

  /**
   * Room composite and v2 template egresses (shared/egress-layout.ts). The layout is stored first, then passed
   * to the recorder participant: one still queued opens the template with the stored layout, and one that joins
   * the room after this push finds no participant; it reads the stored layout once active (workers/room/late-layout.ts).
   */
  async updateLayout(request: UpdateLayoutRequest): Promise<EgressInfo> {
    const info = await this.existing(request.egressId, 'updated');
    if (layoutOf(info) === undefined)
      throw new EgressError(
        'EGR_ERR_INVALID_ARGUMENT',
        'UpdateLayout called on an egress without a layout template (room composite, or StartEgress with a template source)',
      );
    const updated = await this.deps.events.update(request.egressId, (current) => setLayout(current, request.layout));
    await pushLayout(this.deps.config, info.roomName, request.egressId, request.layout).catch((err: Error) =>
      this.deps.log.warn({ egressId: request.egressId, err: err.message }, 'could not pass the layout to the recorder'),
    );
    return updated ?? info;
  }
}
