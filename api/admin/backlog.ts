/**
 * A pool's backlog: the jobs that wait for or hold one of its workers, what an autoscaler sizes the pool by
 * (KEDA reads it at `GET /scaling/<pool>`, scaling.ts; Prometheus as `egress_queue_backlog{pool}`).
 *
 *   backlog = waiting (wait, prioritized) + delayed + active
 *
 * Exact: the pool's own queue only, counted by one BullMQ Lua script (getCounts), so a job moving from
 * waiting to active between two counts is never counted twice or missed. A Start RPC's start-deadline job
 * lives on the housekeeping queue and is not counted; a record job that a full worker handed back
 * (admission: BullMQ delayed for a second) is, since it still waits for a worker. Upload finalize jobs waiting
 * for their uploads (waiting-children) need no worker until those are done and are not counted. Cheap: one
 * script of four O(1) reads, shared by every caller for BACKLOG_MAX_AGE_MS (cached-read.ts).
 */
import type { Queue } from 'bullmq';
import { POOL_NAMES, type PoolName } from '../../shared/config/schema.ts';
import { cachedRead } from './cached-read.ts';

export interface Backlog {
  pool: PoolName;
  /** waiting + delayed + active: the number the pool is scaled on. */
  backlog: number;
  /** Queued for a worker (BullMQ wait and prioritized). */
  waiting: number;
  /** Handed back by a full worker (admission), or a delivery retry waiting out its backoff. */
  delayed: number;
  /** Held by a worker: recording, uploading, delivering. */
  active: number;
}

export type ReadBacklog = (pool: PoolName) => Promise<Backlog>;

/** How long one count serves every caller: far below any autoscaler's polling interval. */
export const BACKLOG_MAX_AGE_MS = 500;
const TIMEOUT_MS = 1000;

export function isPoolName(name: string): name is PoolName {
  return (POOL_NAMES as readonly string[]).includes(name);
}

async function countBacklog(queue: Queue, pool: PoolName): Promise<Backlog> {
  // A paused queue (Bull Board) keeps its jobs in `wait` (BullMQ 6): they are counted there.
  const c = await queue.getJobCounts('wait', 'prioritized', 'delayed', 'active');
  const waiting = (c.wait ?? 0) + (c.prioritized ?? 0);
  const delayed = c.delayed ?? 0;
  const active = c.active ?? 0;
  return { pool, backlog: waiting + delayed + active, waiting, delayed, active };
}

/** One cached reader per pool; `queueOf` gives the pool's queue (shared/queues.ts). */
export function backlogReader(queueOf: (pool: PoolName) => Queue): ReadBacklog {
  const readers = new Map(
    POOL_NAMES.map((pool) => [
      pool,
      cachedRead(() => countBacklog(queueOf(pool), pool), { maxAgeMs: BACKLOG_MAX_AGE_MS, timeoutMs: TIMEOUT_MS, what: `Redis (${pool} backlog)` }),
    ]),
  );
  return (pool) => readers.get(pool)!();
}
