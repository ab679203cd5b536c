/**
 * What each worker process says about its capacity (workers/capacity/admission.ts), kept in Redis for a few
 * seconds so the API can show every worker in /healthz and /metrics (LiveKit's `livekit_egress_available`,
 * `livekit_egress_can_accept_request`). A worker that stops reporting drops out on its own.
 */
import type { Redis } from './redis.ts';
import { redisKeys } from './redis-keys.ts';

export interface CapacityReport {
  workerId: string;
  atMs: number;
  cores: number;
  /** Share of all cores the host used over the last second. */
  busyShare: number;
  /** Cores free for one more recording (may be negative when overcommitted). */
  freeCores: number;
  running: number;
  memoryAvailableBytes: number;
  /** Per record pool this process runs: would it take one more job now. */
  canAccept: Record<string, boolean>;
  /** Per record pool: cores one more recording is expected to cost here (measured, or the configured cpu_cost). */
  estimates: Record<string, number>;
}

const TTL_SEC = 10;

export async function writeCapacityReport(redis: Redis, prefix: string, report: CapacityReport): Promise<void> {
  await redis.set(redisKeys.capacity(prefix, report.workerId), JSON.stringify(report), 'EX', TTL_SEC);
}

export async function readCapacityReports(redis: Redis, prefix: string): Promise<CapacityReport[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', redisKeys.capacity(prefix, '*'), 'COUNT', 200);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  if (keys.length === 0) return [];
  const values = await redis.mget(...keys);
  return values.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as CapacityReport);
}
