/**
 * The recording lease's timing as configured (`takeover.lease_ttl`, `lease_renew_interval`, `lease_safety_margin`,
 * in seconds; shared/config/schema.ts checks them), in the milliseconds EgressLeases and LeaseKeeper take. Why
 * the defaults: shared/lease/lease-timing.ts.
 */
import type { Config } from '../config/schema.ts';

export interface LeaseTiming {
  ttlMs: number;
  renewEveryMs: number;
  safetyMarginMs: number;
}

export function leaseTimingOf(config: Pick<Config, 'takeover'>): LeaseTiming {
  const { lease_ttl, lease_renew_interval, lease_safety_margin } = config.takeover;
  return {
    ttlMs: Math.round(lease_ttl * 1000),
    renewEveryMs: Math.round(lease_renew_interval * 1000),
    safetyMarginMs: Math.round(lease_safety_margin * 1000),
  };
}

/** How long an owner counts its lease valid after a confirmed renewal: what the process watchdog waits for. */
export const validForMs = (timing: LeaseTiming): number => timing.ttlMs - timing.safetyMarginMs;
