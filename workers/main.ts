/**
 * The workers entry: starts the pools that config names (`pools`, env EGRESS_POOLS), each with its
 * concurrency cap, so one container can run one pool type.
 *
 * Signals (documented in the README, "Signals"): SIGTERM or SIGINT drains — no new jobs; running
 * recordings go on for up to `shutdown_grace` seconds, then are stopped and finalized; their uploads and
 * webhooks are delivered; then the process exits (workers/shutdown.ts). A second signal stops every
 * recording at once (still finalized), a third exits at once.
 */
import type { Worker } from 'bullmq';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { pathToFileURL } from 'node:url';
import type { LoadedConfig } from '../shared/config/load.ts';
import { createServiceContext } from '../shared/context.ts';
import { ControlSubscriber } from '../shared/control.ts';
import type { Logger } from '../shared/logger.ts';
import { startPool } from '../shared/pool.ts';
import { RECORD_QUEUES } from '../shared/queues.ts';
import { createRedis, type Redis } from '../shared/redis.ts';
import { InFlight } from '../shared/in-flight.ts';
import { runMain } from '../shared/run-main.ts';
import { endFailedRecordJob } from './recording/failed-job.ts';
import { recordProcessor } from './recording/job-processor.ts';
import { recordsInProcess } from './recording/recorder-choice.ts';
import { recorderSettings } from './recording/session.ts';
import { WarmPool } from './web/warm-pool.ts';
import { reapLeftovers } from './process/leftovers.ts';
import { Admission } from './capacity/admission.ts';
import { Delivery } from './storage/delivery.ts';
import { startUploadPool } from './upload/upload-pool.ts';
import { webhookProcessor } from './webhook/webhook-job.ts';
import type { WorkerContext } from './worker-context.ts';
import { workersShutdown, type WorkersShutdown } from './shutdown.ts';
import { startHealthServer, type HealthServer, type WorkerHealth } from './health-server.ts';

export interface RunningWorkers {
  ctx: WorkerContext;
  /** Drains as on SIGTERM (workers/shutdown.ts); `graceSec` overrides shutdown_grace. */
  close(graceSec?: number, finishSec?: number): Promise<void>;
  /** Stops every running recording now (they are finalized). */
  stopAll: WorkersShutdown['stopAll'];
}

export async function startWorkers(config: LoadedConfig, log: Logger): Promise<RunningWorkers> {
  // What a worker that died on this host left behind (processes, X displays, temp directories) goes first.
  await reapLeftovers(config.tmp_dir, log);
  const { ctx, subscriberRedis } = workerContext(config, log);
  const recordPools: Worker[] = [];
  const deliveryPools: Worker[] = [];
  let shutdown: WorkersShutdown | undefined = undefined;
  // Not ready until every pool runs, and no longer once a drain begins.
  const state = () => workerHealth(ctx, config.pools, [...recordPools, ...deliveryPools], shutdown?.draining() ?? false);
  const { delivery, health } = await openBeforePools(ctx, config, state);
  const { admission, recordJobs } = startRecordPools(ctx, config, log, recordPools);
  if (delivery) deliveryPools.push(startUploadPool(ctx, config, delivery, log));
  if (config.pools.includes('webhook')) {
    deliveryPools.push(startPool(config, 'webhook', webhookProcessor(ctx), { concurrency: config.concurrency.webhook }, log));
  }
  log.info({ workerId: ctx.workerId, pools: config.pools, ...(health ? { healthPort: health.port } : {}) }, 'workers started');

  shutdown = workersShutdown({ ctx, log, subscriberRedis, admission, recordPools, deliveryPools, recordJobs, ...(health ? { health } : {}) });
  const { close, stopAll } = shutdown;
  return { ctx, close: (graceSec = config.shutdown_grace, finishSec) => close(graceSec, finishSec), stopAll };
}

/** The service context of this worker process, with its id and its control subscriber's own connection. */
function workerContext(config: LoadedConfig, log: Logger): { ctx: WorkerContext; subscriberRedis: Redis } {
  const base = createServiceContext(config, log, 'workers');
  const workerId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const subscriberRedis = createRedis(config, 'egress-queue:control').on('error', (err: Error) =>
    log.debug({ err: err.message }, 'control subscriber connection error'),
  );
  const ctx: WorkerContext = { ...base, subscriber: new ControlSubscriber(subscriberRedis, base.control), running: new Map(), workerId };
  return { ctx, subscriberRedis };
}

/**
 * What is built before any pool starts: a storage config that cannot work, or a health port taken, stops the
 * start with nothing left open.
 */
async function openBeforePools(
  ctx: WorkerContext,
  config: LoadedConfig,
  state: () => WorkerHealth,
): Promise<{ delivery?: Delivery; health?: HealthServer }> {
  try {
    const delivery = config.pools.includes('upload') ? new Delivery(ctx) : undefined;
    const health = config.health_port ? await startHealthServer(config.host, config.health_port, state) : undefined;
    return { ...(delivery ? { delivery } : {}), ...(health ? { health } : {}) };
  } catch (err) {
    await ctx.subscriber.close();
    await ctx.close();
    throw err;
  }
}

/**
 * The record pools config names, pushed to `pools` as they start, with what they share: the warm pool (page
 * recordings start on a ready display, sink and browser when one fits) and admission (each record job is
 * admitted by measured cost, workers/capacity/admission.ts, or goes back to its queue).
 */
function startRecordPools(ctx: WorkerContext, config: LoadedConfig, log: Logger, pools: Worker[]): { admission: Admission; recordJobs: InFlight } {
  const recordPoolNames = RECORD_QUEUES.filter((queue) => config.pools.includes(queue));
  if (recordPoolNames.includes('room-composite') && config.warm_pool.size > 0) {
    ctx.warmPool = new WarmPool({ size: config.warm_pool.size, settings: recorderSettings(ctx), log });
  }
  const admission = new Admission({
    config,
    redis: ctx.redis,
    workerId: ctx.workerId,
    pools: recordPoolNames,
    recordings: ctx.running,
    log,
    enabled: config.admission,
    ...(ctx.warmPool ? { stationOwners: ctx.warmPool.owners } : {}),
    recordsInProcess,
  });
  const recordJobs = new InFlight();
  const record = recordJobs.track(recordProcessor(ctx, admission));
  for (const queue of recordPoolNames) {
    const pool = startPool(config, queue, record, { concurrency: config.concurrency[queue], maxStalledCount: 1 }, log);
    // The processor ends every egress it runs; this catches what escapes it (Redis lost mid-job, a stall
    // past maxStalledCount), so no egress is left STARTING or ACTIVE by a failed job, unless it moved on (a takeover).
    pool.on('failed', (job, err) => void endFailedRecordJob(ctx, job?.data, `the recording job failed: ${err.message}`));
    pools.push(pool);
  }
  if (recordPoolNames.length) admission.start();
  ctx.warmPool?.start();
  return { admission, recordJobs };
}

/** What the health endpoint reports, read at each probe. */
function workerHealth(ctx: WorkerContext, pools: readonly string[], workers: Worker[], draining: boolean): WorkerHealth {
  return {
    redis: ctx.redis.status,
    pools: Object.fromEntries(pools.map((name) => [name, workers.some((w) => w.name === name && w.isRunning())])),
    running: ctx.running.size,
    draining,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await runMain('workers', async (config, log) => {
    const workers = await startWorkers(config, log);
    return {
      close: ({ graceSec, finishSec }) => workers.close(graceSec, finishSec),
      interrupt: (finishSec) => workers.stopAll('Server shutting down', finishSec),
    };
  });
}
