/**
 * Every status change of an egress goes through here: it is written to the store, and the change is
 * announced as LiveKit announces it — `egress_started` on creation, `egress_updated` on ACTIVE and ENDING
 * (and result updates while live), `egress_ended` on COMPLETE / FAILED / ABORTED / LIMIT_REACHED — to the
 * configured webhook URLs and the request's own (sealed: shared/webhook-targets.ts), through the webhook
 * queue (retries, backoff); job data names each destination by reference, never by its URL. A recording
 * worker writes through withFence(): its changes land only while it holds the egress's lease (issue 16).
 */
import { type EgressInfo, EgressStatus, WebhookEvent } from '@livekit/protocol';
import type { Logger } from 'pino';
import { jobBackoff } from './backoff.ts';
import type { Fence } from './lease/fence.ts';
import type { LoadedConfig } from './config/load.ts';
import { type EgressError, ERRORS } from './errors.ts';
import { type EgressStore, isTerminal } from './egress-store.ts';
import { newId, nowNanos } from './ids.ts';
import type { Queues, WebhookJobData } from './queues.ts';
import type { Redis } from './redis.ts';
import { outlivingRecordTtlSec } from './redis-keys.ts';
import type { SecretBox } from './secret-box.ts';
import { displayUrl, wants, WebhookTargetStore, type WebhookEventName, type WebhookRef, type WebhookTarget } from './webhook-targets.ts';

export type { WebhookTarget } from './webhook-targets.ts';

type EventName = WebhookEventName;

/** The end of an egress, as a status with its reason. */
export interface EgressEnd {
  status: EgressStatus.EGRESS_COMPLETE | EgressStatus.EGRESS_FAILED | EgressStatus.EGRESS_ABORTED | EgressStatus.EGRESS_LIMIT_REACHED;
  error?: string;
  errorCode?: number;
  /** LiveKit's end reason, e.g. "StopEgress API", "Source closed". */
  reason: string;
}

export function endWithError(status: EgressEnd['status'], err: EgressError, reason = 'Failure'): EgressEnd {
  return { status, error: err.message, errorCode: err.egressCode, reason };
}

/** EgressInfo.details of a resumed egress. */
export function resumedDetails(takeovers: number): string {
  return `resumed by another worker after its recorder was lost (${takeovers} takeover${takeovers === 1 ? '' : 's'})`;
}

interface EgressEventsDeps {
  store: EgressStore;
  queues: Queues;
  redis: Redis;
  box: SecretBox;
  config: LoadedConfig;
  log: Logger;
}

export class EgressEvents {
  readonly store: EgressStore;
  /** The request's own webhook destinations, sealed. */
  readonly webhooks: WebhookTargetStore;
  private readonly queues: Queues;
  private readonly config: LoadedConfig;
  private readonly log: Logger;
  private readonly deps: EgressEventsDeps;

  constructor(deps: EgressEventsDeps) {
    this.deps = deps;
    this.store = deps.store;
    this.queues = deps.queues;
    this.config = deps.config;
    this.log = deps.log;
    // As long as the key lived before it was sealed: webhook jobs may outlive the record.
    this.webhooks = new WebhookTargetStore(deps.redis, deps.box, {
      prefix: deps.config.redis.prefix,
      ttlSeconds: outlivingRecordTtlSec(deps.config.egress_ttl),
    });
  }

  /**
   * These events as a recording owner makes them: every status and result write checks `fence` against the
   * egress's lease in the same Lua call, so a worker that lost the egress has its late writes refused (and no
   * webhook goes out for them).
   */
  withFence(fence: Fence): EgressEvents {
    return new EgressEvents({ ...this.deps, store: this.deps.store.withFence(fence) });
  }

  async create(info: EgressInfo, targets: WebhookTarget[]): Promise<void> {
    await this.webhooks.put(info.egressId, targets);
    await this.store.create(info);
    await this.announce(info, 'egress_started');
  }

  /** Changes the record; announces the change if it moved the status (or `announce` asks to). */
  async update(
    egressId: string,
    change: (info: EgressInfo) => boolean | void,
    options: { announce?: boolean } = {},
  ): Promise<EgressInfo | undefined> {
    let statusBefore: EgressStatus | undefined;
    const result = await this.store.update(egressId, (info) => {
      statusBefore = info.status;
      return change(info);
    });
    if (result?.refused) this.log.warn({ egressId, refused: result.refused }, 'write refused: this worker no longer owns the egress');
    if (!result?.changed) return result?.info;
    const { info } = result;
    if (isTerminal(info.status)) await this.announce(info, 'egress_ended');
    else if (info.status !== statusBefore || options.announce) await this.announce(info, 'egress_updated');
    return info;
  }

  /** ACTIVE from the first recorded frame; `roomId`: the room's sid, when the egress records a room. */
  markActive(egressId: string, startedAtMs: number, roomId = ''): Promise<EgressInfo | undefined> {
    return this.update(egressId, (info) => {
      if (info.status !== EgressStatus.EGRESS_STARTING) return false;
      info.status = EgressStatus.EGRESS_ACTIVE;
      info.startedAt = BigInt(startedAtMs) * 1_000_000n;
      if (roomId) info.roomId = roomId;
    });
  }

  /**
   * A taken-over egress records again (issue 16): it stays ACTIVE (or becomes so, if its first part never got
   * a frame), its details say it was resumed and how often, and `egress_updated` tells the application.
   */
  markResumed(egressId: string, takeovers: number, startedAtMs: number, roomId = ''): Promise<EgressInfo | undefined> {
    return this.update(
      egressId,
      (info) => {
        if (info.status === EgressStatus.EGRESS_STARTING) {
          info.status = EgressStatus.EGRESS_ACTIVE;
          info.startedAt = BigInt(startedAtMs) * 1_000_000n;
        } else if (info.status !== EgressStatus.EGRESS_ACTIVE) return false;
        if (roomId) info.roomId = roomId;
        info.details = resumedDetails(takeovers);
      },
      { announce: true },
    );
  }

  markEnding(egressId: string, reason: string): Promise<EgressInfo | undefined> {
    return this.update(egressId, (info) => {
      if (info.status !== EgressStatus.EGRESS_ACTIVE) return false;
      info.status = EgressStatus.EGRESS_ENDING;
      info.details = `End reason: ${reason}`;
    });
  }

  /** Ends the egress (a no-op when it already ended). `change` may fill results in the same write. */
  end(egressId: string, end: EgressEnd, change?: (info: EgressInfo) => void): Promise<EgressInfo | undefined> {
    return this.update(egressId, (info) => {
      change?.(info);
      info.status = end.status;
      info.endedAt = nowNanos();
      info.details = `End reason: ${end.reason}`;
      if (end.error) info.error = end.error;
      if (end.errorCode) info.errorCode = end.errorCode;
      else if (end.status === EgressStatus.EGRESS_LIMIT_REACHED) info.errorCode = ERRORS.EGR_ERR_LIMIT_REACHED.egressCode;
      if (info.status !== EgressStatus.EGRESS_COMPLETE)
        this.log.warn({ egressId, status: EgressStatus[end.status], error: end.error }, 'egress ended');
    });
  }

  /** Every destination of the egress, by reference: the config's URLs, then the request's. */
  private async targets(
    egressId: string,
  ): Promise<{ ref: WebhookRef; shown: string; target: Pick<WebhookTarget, 'includeEvents' | 'excludeEvents'> }[]> {
    const fromConfig = this.config.webhook.urls.map((url, index) => ({
      ref: { source: 'config' as const, index },
      shown: displayUrl(url),
      target: { includeEvents: [], excludeEvents: [] },
    }));
    const fromRequest = (await this.webhooks.get(egressId)).map((target, index) => ({
      ref: { source: 'request' as const, index },
      shown: displayUrl(target.url),
      target,
    }));
    return [...fromConfig, ...fromRequest];
  }

  private async announce(info: EgressInfo, event: EventName): Promise<void> {
    const targets = (await this.targets(info.egressId)).filter((t) => wants(t.target, event));
    if (targets.length === 0) return;
    const body = new WebhookEvent({
      event,
      id: newId('EV_'),
      createdAt: BigInt(Math.floor(Date.now() / 1000)),
      egressInfo: info,
      ...(info.roomName ? { room: { sid: info.roomId, name: info.roomName } } : {}),
    }).toJsonString();
    await this.queues.get('webhook').addBulk(
      targets.map((t) => ({
        name: event,
        data: { egressId: info.egressId, event, target: t.ref, url: t.shown, body } satisfies WebhookJobData,
        opts: { attempts: this.config.webhook.attempts, backoff: jobBackoff(this.config.webhook.backoff) },
      })),
    );
  }
}
