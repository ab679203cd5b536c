/**
 * Every Redis key name the service uses, built from the configured `redis.prefix`, and how long per-egress
 * state is kept. Key names are data a running deployment already holds: never rename one.
 */

/** How long per-egress state is kept once it may be needed no more (stop marks, lease fencing counters, takeover state, failed jobs): a week. */
export const RETENTION_SEC = 7 * 24 * 3600;

/**
 * Time to live of per-egress data that jobs read after the record is gone (sealed secrets and webhook
 * targets, the segment log): the record's own `egress_ttl` plus RETENTION_SEC.
 */
export const outlivingRecordTtlSec = (egressTtl: number): number => egressTtl + RETENTION_SEC;

/** Key names and namespaces (a store adds its own suffixes to its namespace), by what they hold. */
export const redisKeys = {
  /** EgressInfo records and their indexes (shared/egress-store.ts). */
  store: (prefix: string) => `${prefix}:store`,
  /** Sealed request secrets (shared/egress-secrets.ts). */
  secrets: (prefix: string) => `${prefix}:store:secrets`,
  /** Sealed webhook targets (shared/webhook-targets.ts). */
  webhooks: (prefix: string) => `${prefix}:store:webhooks`,
  /** Segment logs (shared/segment-log.ts). */
  segments: (prefix: string) => `${prefix}:store:segments`,
  /** Each part of a recording taken over by another worker: who recorded it, where, from when (shared/takeover/part-log.ts). */
  parts: (prefix: string) => `${prefix}:store:parts`,
  /** Control channels and stop marks (shared/control.ts). */
  control: (prefix: string) => `${prefix}:control`,
  /** Failed-authentication counters (shared/auth-throttle.ts). */
  authFail: (prefix: string) => `${prefix}:authfail`,
  /** Rate-limit counters (shared/rate-limit.ts). */
  rateLimit: (prefix: string) => `${prefix}:ratelimit`,
  /** A worker's capacity report (shared/capacity-report.ts); `*` as workerId matches them all. */
  capacity: (prefix: string, workerId: string) => `${prefix}:capacity:${workerId}`,
  /** The lease on recording an egress (shared/lease/egress-lease.ts): who records it now; it lapses unless renewed. */
  lease: (prefix: string, egressId: string) => `${prefix}:lease:${egressId}`,
  /** The fencing-token counter of an egress's lease, kept RETENTION_SEC after its last use. */
  leaseFence: (prefix: string, egressId: string) => `${prefix}:fence:${egressId}`,
  /** An egress's takeovers: its current part, when its last owner was found lost, each part's grant (shared/takeover/takeover-state.ts). */
  takeover: (prefix: string, egressId: string) => `${prefix}:takeover:${egressId}`,
  /** BullMQ's own prefix (shared/queues.ts). */
  bull: (prefix: string) => `${prefix}:bull`,
} as const;
