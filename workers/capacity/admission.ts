/**
 * Admission by measured cost. LiveKit reserves a fixed cost per request (4 cores for a room composite), so
 * a 4-core node runs one (livekit/egress#912) and this 2-core machine none. Here the configured cpu_cost is
 * only the first estimate: once this node has measured recordings of a pool (the CPU of every process
 * started for them, and for those recorded inside the worker process a share of its own CPU, after a 15 s
 * settling time), the measured mean is the pool's estimate (web and room
 * composite cost alike: both are Chrome and one encode). A pool takes one more job only while the free share
 * of the node (cores × max_cpu_utilization, less what the running recordings reserve or the host really
 * uses, whichever is more) covers its estimate; a node with nothing running always takes one. A job this
 * node cannot take goes back to the queue for a second (BullMQ delayed), where any node with room picks it up. Memory likewise: the node keeps 1 GB free beyond the measured (or
 * configured memory_cost) size of one more recording, and `max_memory` caps what recordings use. A node overloaded for 10 s stops its recording most over its
 * estimate gracefully ("CPU exhausted") instead of letting all of them drop frames.
 */
import type { Logger } from 'pino';
import type { Config } from '../../shared/config/schema.ts';
import type { EgressPlan, RecordPoolName } from '../../shared/egress-plan.ts';
import { writeCapacityReport, type CapacityReport } from '../../shared/capacity-report.ts';
import type { Redis } from '../../shared/redis.ts';
import type { Recording } from '../recording/recorder-contract.ts';
import { configuredCost, costKindOf, POOL_KINDS, type CostKind } from './cost-kinds.ts';
import { availableMemoryBytes, busyShare, cores, InProcessShares, perEgressUsage, sampleCpu, type CpuSample } from './host-load.ts';

const TICK_MS = 1000;
const MEASURE_EVERY_TICKS = 5;
/** A recording's first seconds (browser start, page load) say nothing about its steady cost. */
const SETTLE_MS = 15_000;
const OVERLOAD_SHARE = 0.95;
const OVERLOAD_TICKS = 10;

interface Running {
  egressId: string;
  pool: RecordPoolName;
  kind: CostKind;
  /** Recorded inside the worker process (its CPU is shared among such recordings), not only by processes of its own. */
  inProcess: boolean;
  startedAtMs: number;
  /** Cores it used over the last measurement, once settled. */
  measuredCores?: number;
  lastCpuSec?: number;
  lastAtMs?: number;
  rssBytes?: number;
}

const GB = 1024 ** 3;
/** What LiveKit keeps free on a node beyond the recordings. */
const MEMORY_HEADROOM_BYTES = 1 * GB;

const ewma = (previous: number | undefined, value: number): number => (previous === undefined ? value : previous * 0.8 + value * 0.2);

/** The decision, pure: how many cores are free for one more recording. */
export function freeCores(input: { cores: number; maxUtilization: number; hostBusyShare: number; reservations: number[] }): number {
  const reserved = input.reservations.reduce((a, b) => a + b, 0);
  return input.cores * input.maxUtilization - Math.max(reserved, input.cores * input.hostBusyShare);
}

export interface AdmissionOptions {
  config: Pick<Config, 'cpu_cost'> & { redis: { prefix: string } };
  redis: Redis;
  workerId: string;
  /** The record pools this process runs. */
  pools: RecordPoolName[];
  /** The process's recordings (to stop one when overloaded). */
  recordings: Map<string, Recording>;
  /** Config `admission`: false takes every job the concurrency caps allow (capacity is still measured and reported). */
  enabled: boolean;
  /** Warm stations taken by recordings (station id → egress id): their processes count for that egress. */
  stationOwners?: ReadonlyMap<string, string>;
  /** Whether a plan is recorded inside the worker process (workers/recording/recorder-choice.ts). */
  recordsInProcess?: (plan: EgressPlan) => boolean;
  log: Logger;
}

export class Admission {
  private readonly options: AdmissionOptions;
  private readonly running = new Map<string, Running>();
  /** Measured mean cores per kind and per pool (exponentially weighted). */
  private readonly measured = new Map<CostKind, number>();
  private readonly measuredByPool = new Map<RecordPoolName, number>();
  /** Measured mean resident memory per kind, bytes. */
  private readonly measuredRss = new Map<CostKind, number>();
  private readonly inProcessShares = new InProcessShares();
  private memoryAvailable = Infinity;
  private timer: NodeJS.Timeout | undefined;
  private lastCpu: CpuSample | undefined;
  private busy = 0;
  private overloadedTicks = 0;
  private ticks = 0;

  constructor(options: AdmissionOptions) {
    this.options = options;
  }

  /**
   * Whether this node takes the recording now; if so it counts as running until release(). A node with
   * nothing running always takes one.
   */
  admit(plan: EgressPlan, pool: RecordPoolName): boolean {
    if (this.options.enabled && !this.canAccept(pool)) return false;
    const inProcess = this.options.recordsInProcess?.(plan) ?? false;
    this.running.set(plan.egressId, { egressId: plan.egressId, pool, kind: costKindOf(plan), inProcess, startedAtMs: Date.now() });
    return true;
  }

  release(egressId: string): void {
    this.running.delete(egressId);
  }

  start(): void {
    this.timer = setInterval(
      () => void this.tick().catch((err: Error) => this.options.log.warn({ err: err.message }, 'capacity sampling failed')),
      TICK_MS,
    );
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** What a recording of `kind` is expected to cost here. */
  estimate(kind: CostKind): number {
    return this.measured.get(kind) ?? configuredCost(this.options.config, kind);
  }

  /** What one more recording of `pool` is expected to cost: measured on this node, else the dearest configured kind. */
  poolEstimate(pool: RecordPoolName): number {
    return this.measuredByPool.get(pool) ?? Math.max(...POOL_KINDS[pool].map((kind) => this.estimate(kind)));
  }

  private reservation(r: Running): number {
    return r.measuredCores ?? this.measuredByPool.get(r.pool) ?? this.estimate(r.kind);
  }

  free(): number {
    return freeCores({
      cores: cores(),
      maxUtilization: this.options.config.cpu_cost.max_cpu_utilization,
      hostBusyShare: this.busy,
      reservations: [...this.running.values()].map((r) => this.reservation(r)),
    });
  }

  canAccept(pool: RecordPoolName): boolean {
    if (this.running.size === 0) return true;
    const kinds = POOL_KINDS[pool];
    const cost = this.poolEstimate(pool);
    const memory = Math.max(...kinds.map((kind) => this.measuredRss.get(kind) ?? this.options.config.cpu_cost.memory_cost * GB));
    const used = [...this.running.values()].reduce((sum, r) => sum + (r.rssBytes ?? 0), 0);
    const maxMemory = this.options.config.cpu_cost.max_memory * GB;
    if (maxMemory > 0 && used + memory > maxMemory) return false;
    return this.free() >= cost && this.memoryAvailable - MEMORY_HEADROOM_BYTES >= memory;
  }

  private async tick(): Promise<void> {
    const now = await sampleCpu();
    if (this.lastCpu) this.busy = busyShare(this.lastCpu, now);
    this.lastCpu = now;
    this.memoryAvailable = await availableMemoryBytes();
    if (this.ticks++ % MEASURE_EVERY_TICKS === 0) await this.measure();
    this.watchOverload();
    await writeCapacityReport(this.options.redis, this.options.config.redis.prefix, this.report());
  }

  private async measure(): Promise<void> {
    const usage = await perEgressUsage(new Set(this.running.keys()), this.options.stationOwners);
    const shares = this.inProcessShares.share([...this.running.values()].filter((r) => r.inProcess).map((r) => r.egressId));
    const now = Date.now();
    for (const r of this.running.values()) {
      const own = usage.get(r.egressId);
      const share = shares.get(r.egressId);
      const used = own || share !== undefined ? { cpuSec: (own?.cpuSec ?? 0) + (share ?? 0), rssBytes: own?.rssBytes ?? 0 } : undefined;
      if (!used) {
        // Nothing started for it yet (a recorder waiting for its participant): once settled it reserves nothing,
        // and it says nothing about what a recording costs.
        if (now - r.startedAtMs >= SETTLE_MS) r.measuredCores = 0;
        continue;
      }
      r.rssBytes = used.rssBytes;
      if (r.lastCpuSec !== undefined && r.lastAtMs !== undefined && now - r.startedAtMs >= SETTLE_MS) {
        r.measuredCores = (used.cpuSec - r.lastCpuSec) / ((now - r.lastAtMs) / 1000);
        this.measured.set(r.kind, ewma(this.measured.get(r.kind), r.measuredCores));
        this.measuredByPool.set(r.pool, ewma(this.measuredByPool.get(r.pool), r.measuredCores));
        this.measuredRss.set(r.kind, ewma(this.measuredRss.get(r.kind), used.rssBytes));
      }
      r.lastCpuSec = used.cpuSec;
      r.lastAtMs = now;
    }
  }

  private watchOverload(): void {
    this.overloadedTicks = this.options.enabled && this.busy > OVERLOAD_SHARE && this.running.size > 1 ? this.overloadedTicks + 1 : 0;
    if (this.overloadedTicks < OVERLOAD_TICKS) return;
    this.overloadedTicks = 0;
    const worst = [...this.running.values()]
      .filter((r) => r.measuredCores !== undefined)
      .sort((a, b) => b.measuredCores! - this.estimate(b.kind) - (a.measuredCores! - this.estimate(a.kind)))[0];
    if (!worst) return;
    this.options.log.warn(
      { egressId: worst.egressId, measuredCores: worst.measuredCores, estimate: this.estimate(worst.kind) },
      'node overloaded: stopping the egress most over its budget',
    );
    this.options.recordings.get(worst.egressId)?.stop('CPU exhausted');
  }

  report(): CapacityReport {
    return {
      workerId: this.options.workerId,
      atMs: Date.now(),
      cores: cores(),
      busyShare: Number(this.busy.toFixed(3)),
      freeCores: Number(this.free().toFixed(3)),
      running: this.running.size,
      memoryAvailableBytes: Number.isFinite(this.memoryAvailable) ? this.memoryAvailable : 0,
      canAccept: Object.fromEntries(this.options.pools.map((name) => [name, this.canAccept(name)])),
      estimates: Object.fromEntries(this.options.pools.map((name) => [name, Number(this.poolEstimate(name).toFixed(3))])),
    };
  }
}
