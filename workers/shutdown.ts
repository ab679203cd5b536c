/**
 * How the worker pools of a process stop (the signals that ask for it: README "Signals", shared/run-main.ts).
 * No new jobs; running recordings go on for the grace (shutdown_grace on SIGTERM, none on Ctrl-C), then are
 * stopped and finalized like a StopEgress. From then on everything else — finalizing, the uploads and
 * webhooks the recordings queued, closing the pools and connections — gets `finishSec`, and a Redis that is
 * gone fails whatever waits for it instead of holding the exit: a recording is then finalized without it
 * (upload/finalize-without-redis.ts) and what could not be recorded is logged with its egress id.
 */
import type { Worker } from 'bullmq';
import type { Logger } from 'pino';
import { Deadline } from '../shared/deadline.ts';
import type { InFlight } from '../shared/in-flight.ts';
import type { QueueName } from '../shared/queues.ts';
import { DRAIN_FINISH_SEC } from '../shared/run-main.ts';
import { failFast, unavailable, type Redis } from '../shared/redis.ts';
import type { Admission } from './capacity/admission.ts';
import type { HealthServer } from './health-server.ts';
import type { WorkerContext } from './worker-context.ts';

/** What the end of the close (closing the pools and connections) keeps for itself out of the finish time. */
const CLOSE_RESERVE_MS = 2000;
const POLL_MS = 250;

export interface WorkerParts {
  ctx: WorkerContext;
  log: Logger;
  /** The control subscriber's connection. */
  subscriberRedis: Redis;
  admission: Admission;
  recordPools: Worker[];
  /** The upload and webhook pools. */
  deliveryPools: Worker[];
  /** The record jobs' processors while they run. */
  recordJobs: InFlight;
  /** The health endpoint (`health_port`), if any: it answers through the drain and closes last. */
  health?: HealthServer;
}

export interface WorkersShutdown {
  /**
   * Running recordings go on for `graceSec`, then are stopped and finalized; the rest gets `finishSec`
   * from then (what is not done by then stays queued in Redis or in tmp_dir).
   */
  close: (graceSec: number, finishSec?: number) => Promise<void>;
  /** Stops every running recording now (they are finalized); what is left of the close gets at most `finishSec`. */
  stopAll: (reason: string, finishSec?: number) => void;
  /** Whether a drain or a stop has begun (the health endpoint then says not ready). */
  draining(): boolean;
}

export function workersShutdown(parts: WorkerParts): WorkersShutdown {
  const { ctx, log } = parts;
  const deadline = new Deadline();
  let draining = false;
  const redisGone = () => unavailable(ctx.redis).then(() => 'Redis is unavailable');

  /** The recordings are over or being stopped: from now on the shutdown is bounded, and Redis is not waited for. */
  const finishing = (finishSec: number) => {
    deadline.within(finishSec * 1000);
    failFast(ctx.redis);
    failFast(parts.subscriberRedis);
  };
  /** No new recording jobs. BullMQ's close waits for each job's processor, then for Redis to record the job's end (the same promise on every call). */
  const noNewRecordings = () => {
    draining = true;
    parts.admission.stop();
    return Promise.all(parts.recordPools.map((w) => w.close()));
  };
  const stopAll = (reason: string, finishSec = DRAIN_FINISH_SEC) => {
    void noNewRecordings();
    finishing(finishSec);
    for (const recording of ctx.running.values()) recording.stop(reason);
  };

  const close = async (graceSec: number, finishSec = DRAIN_FINISH_SEC) => {
    log.info({ running: ctx.running.size, graceSec, finishSec }, 'draining: no new jobs; running recordings may finish');
    const recordsClosed = noNewRecordings();
    // The idle stations go now; taken ones end with their recordings.
    const stations = ctx.warmPool?.close();
    const timer = setTimeout(() => stopAll('Server shutting down', finishSec), graceSec * 1000);
    // Without Redis the end of a job is never recorded: the processors having returned is all there is to wait for.
    await deadline.wait(recordsClosed, 'the recording jobs', log, parts.recordJobs.idle().then(redisGone));
    clearTimeout(timer);
    finishing(finishSec);
    await deadline.wait(stations ?? Promise.resolve(), 'the warm stations', log);
    if (parts.deliveryPools.length) await waitForDeliveries(ctx, parts.deliveryPools, deadline, log);
    await deadline.wait(Promise.all(parts.deliveryPools.map((w) => w.close())), 'the upload and webhook jobs', log, redisGone());
    await ctx.subscriber.close();
    await deadline.wait(ctx.close(), 'the Redis connections', log);
    await parts.health?.close();
    log.info('workers stopped');
  };
  return { close, stopAll, draining: () => draining };
}

/**
 * The uploads and webhooks the ended recordings queued are delivered before their pools close: waited for
 * until the finish time (less what closing needs), or as long as Redis answers. What is left stays queued.
 */
async function waitForDeliveries(ctx: WorkerContext, pools: Worker[], deadline: Deadline, log: Logger): Promise<void> {
  const until = Date.now() + deadline.remainingMs() - CLOSE_RESERVE_MS;
  const queues = pools.map((w) => ctx.queues.get(w.name as QueueName));
  const gone = unavailable(ctx.redis).then(() => undefined);
  while (Date.now() < until) {
    const counts = await Promise.race([Promise.all(queues.map((q) => q.getJobCounts('wait', 'active', 'prioritized', 'waiting-children'))), gone]);
    if (!counts) {
      log.warn(
        'Redis is unavailable: uploads and webhooks not waited for (what Redis keeps of their jobs, the next upload and webhook workers deliver)',
      );
      return;
    }
    if (counts.every((c) => Object.values(c).every((n) => n === 0))) return;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  log.warn('uploads or webhooks still pending at shutdown; they stay queued for the next upload and webhook workers');
}
