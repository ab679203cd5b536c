/**
 * `GET /metrics`, Prometheus text, for scrapers: no auth, so nothing here may name a secret (labels are
 * queue names, job states, request types and statuses only). A registry of our own rather than
 * prom-client's global one, so that nothing else in the process can add to or collide with it.
 *
 * - process metrics (prom-client defaults: CPU, memory, event loop, GC, handles);
 * - `egress_queue_redis_up`: 0 when Redis did not answer, in which case the Redis-derived series are absent;
 * - `egress_queue_jobs{queue,state}`: BullMQ job counts;
 * - `egress_queue_backlog{pool}`: jobs waiting for or held by the pool's workers, what it is scaled on
 *   (backlog.ts; the same count as `GET /scaling/<pool>`);
 * - `egress_queue_egresses{type,status}`: egresses not yet ended (LiveKit's `livekit_egress_requests{type}`,
 *   but across the whole cluster, and by status);
 * - `livekit_egress_available` (1 while some worker has nothing running, as LiveKit's) and
 *   `livekit_egress_can_accept_request` (1 while some worker would take a web / room composite request now),
 *   across every worker reporting (shared/capacity-report.ts);
 * - `egress_queue_worker_free_cores{worker}`, `egress_queue_worker_running{worker}`,
 *   `egress_queue_worker_can_accept{worker,pool}`, `egress_queue_worker_cost_estimate{worker,pool}` (cores);
 * - BullMQ's own `bullmq_job_count`, `bullmq_job_completed_total`, `bullmq_job_failed_total`.
 */
import { EgressStatus, type EgressInfo } from '@livekit/protocol';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { POOL_NAMES } from '../../shared/config/schema.ts';
import type { ReadBacklog } from './backlog.ts';
import { cachedRead } from './cached-read.ts';
import { mergeExpositions } from './exposition.ts';
import type { CapacityReport } from '../../shared/capacity-report.ts';
import type { Overview, ReadOverview } from './overview.ts';

export interface MetricsOptions {
  queues: Queue[];
  overview: ReadOverview;
  backlog: ReadBacklog;
}

const BULLMQ_MAX_AGE_MS = 3000;
const BULLMQ_TIMEOUT_MS = 1000;

export async function metricsRoutes(app: FastifyInstance, options: MetricsOptions): Promise<void> {
  const registry = createRegistry(options.overview, options.backlog);
  const bullmqMetrics = cachedRead(() => Promise.all(options.queues.map((queue) => queue.exportPrometheusMetrics())), {
    maxAgeMs: BULLMQ_MAX_AGE_MS,
    timeoutMs: BULLMQ_TIMEOUT_MS,
    what: 'Redis (BullMQ metrics)',
  });

  app.get('/metrics', async (_request, reply) => {
    const [ours, bullmq] = await Promise.all([registry.metrics(), bullmqMetrics().catch(() => [])]);
    return reply.type(registry.contentType).send(ours + mergeExpositions(bullmq));
  });
}

/** Our registry: process metrics, then the Redis-derived, scaling, LiveKit-compatible and per-worker series. */
export function createRegistry(readOverview: ReadOverview, readBacklog: ReadBacklog): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // The gauges drawn from the overview are collected from one overview read; a failed read leaves the Redis
  // series empty rather than reporting stale numbers.
  const overview = async (): Promise<Overview | undefined> => readOverview().catch(() => undefined);
  const workers = async () => (await overview())?.workers ?? [];
  registerQueueGauges(registry, overview);
  registerBacklogGauge(registry, readBacklog);
  registerEgressesGauge(registry, overview);
  registerAvailabilityGauges(registry, workers);
  registerWorkerGauges(registry, workers);
  return registry;
}

/** `egress_queue_redis_up` and `egress_queue_jobs{queue,state}`. */
export function registerQueueGauges(registry: Registry, overview: () => Promise<Overview | undefined>): void {
  new Gauge({
    name: 'egress_queue_redis_up',
    help: 'Whether Redis answered the last metrics read (1) or not (0).',
    registers: [registry],
    async collect() {
      this.set((await overview()) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'egress_queue_jobs',
    help: 'BullMQ jobs per queue and state.',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const [queue, counts] of Object.entries((await overview())?.jobCounts ?? {})) {
        for (const [state, count] of Object.entries(counts)) this.set({ queue, state }, count);
      }
    },
  });
}

/** `egress_queue_egresses{type,status}`: egresses not yet ended. */
export function registerEgressesGauge(registry: Registry, overview: () => Promise<Overview | undefined>): void {
  new Gauge({
    name: 'egress_queue_egresses',
    help: 'Egresses not yet ended, per request type and status.',
    labelNames: ['type', 'status'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const info of (await overview())?.activeEgresses ?? []) this.inc(egressLabels(info));
    },
  });
}

/** `egress_queue_backlog{pool}`: what each pool is scaled on. */
export function registerBacklogGauge(registry: Registry, readBacklog: ReadBacklog): void {
  new Gauge({
    name: 'egress_queue_backlog',
    help: "Jobs waiting for or held by the pool's workers (waiting + delayed + active): what the pool is scaled on.",
    labelNames: ['pool'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const counts = await Promise.all(POOL_NAMES.map((pool) => readBacklog(pool).catch(() => undefined)));
      for (const count of counts) if (count) this.set({ pool: count.pool }, count.backlog);
    },
  });
}

/** LiveKit's `livekit_egress_available` and `livekit_egress_can_accept_request`, across every worker reporting. */
export function registerAvailabilityGauges(registry: Registry, workers: () => Promise<CapacityReport[]>): void {
  new Gauge({
    name: 'livekit_egress_available',
    help: 'Whether some worker has no recording running (LiveKit: the node is idle).',
    registers: [registry],
    async collect() {
      this.set((await workers()).some((w) => w.running === 0) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'livekit_egress_can_accept_request',
    help: 'Whether some worker would take a web or room composite request now.',
    registers: [registry],
    async collect() {
      this.set((await workers()).some((w) => w.canAccept['room-composite']) ? 1 : 0);
    },
  });
}

/** Per worker: free cores and recordings running; per worker and pool: whether it takes a job now, and at what cost. */
export function registerWorkerGauges(registry: Registry, workers: () => Promise<CapacityReport[]>): void {
  const perWorker = (name: string, help: string, value: (w: CapacityReport) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['worker'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        for (const w of await workers()) this.set({ worker: w.workerId }, value(w));
      },
    });
  const perWorkerAndPool = (name: string, help: string, values: (w: CapacityReport) => Record<string, number>) =>
    new Gauge({
      name,
      help,
      labelNames: ['worker', 'pool'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        for (const w of await workers()) for (const [pool, value] of Object.entries(values(w))) this.set({ worker: w.workerId, pool }, value);
      },
    });
  perWorker('egress_queue_worker_free_cores', "Cores free for one more recording on the worker's node (measured).", (w) => w.freeCores);
  perWorker('egress_queue_worker_running', 'Recordings the worker runs.', (w) => w.running);
  perWorkerAndPool('egress_queue_worker_can_accept', 'Whether the worker would take one more job of the pool now.', (w) =>
    Object.fromEntries(Object.entries(w.canAccept).map(([pool, yes]) => [pool, yes ? 1 : 0])),
  );
  perWorkerAndPool(
    'egress_queue_worker_cost_estimate',
    "Cores one more recording of each pool is expected to cost on the worker's node (measured, else the configured cpu_cost).",
    (w) => w.estimates,
  );
}

/** `roomComposite` → `room_composite`, as LiveKit names request types; `EGRESS_ACTIVE` → `active`. */
function egressLabels(info: EgressInfo): { type: string; status: string } {
  const type = info.request.case?.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) ?? 'unknown';
  const status = (EgressStatus[info.status] ?? String(info.status)).replace(/^EGRESS_/, '').toLowerCase();
  return { type, status };
}
