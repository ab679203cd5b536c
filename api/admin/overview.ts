/**
 * What operators look at in /healthz and /metrics: job counts of every queue, and the egresses not yet
 * ended. One read for both endpoints (see cached-read.ts).
 */
import type { EgressInfo } from '@livekit/protocol';
import type { ApiDeps } from '../api-deps.ts';
import { readCapacityReports, type CapacityReport } from '../../shared/capacity-report.ts';
import { cachedRead } from './cached-read.ts';

export interface Overview {
  /** Queue name → BullMQ state (waiting, active, delayed, prioritized, failed, …) → job count. */
  jobCounts: Record<string, Record<string, number>>;
  activeEgresses: EgressInfo[];
  /** What each live worker process reports about its capacity (shared/capacity-report.ts). */
  workers: CapacityReport[];
}

export type ReadOverview = () => Promise<Overview>;

const MAX_AGE_MS = 3000;
const TIMEOUT_MS = 1000;

export function overviewReader(deps: Pick<ApiDeps, 'queues' | 'events' | 'redis' | 'config'>): ReadOverview {
  return cachedRead(() => readOverview(deps), { maxAgeMs: MAX_AGE_MS, timeoutMs: TIMEOUT_MS, what: 'Redis (queue and egress overview)' });
}

async function readOverview(deps: Pick<ApiDeps, 'queues' | 'events' | 'redis' | 'config'>): Promise<Overview> {
  const queues = deps.queues.all();
  const [counts, activeEgresses, workers] = await Promise.all([
    Promise.all(queues.map((queue) => queue.getJobCounts())),
    deps.events.store.list({ active: true }),
    readCapacityReports(deps.redis, deps.config.redis.prefix),
  ]);
  return { jobCounts: Object.fromEntries(queues.map((queue, i) => [queue.name, counts[i]!])), activeEgresses, workers };
}
