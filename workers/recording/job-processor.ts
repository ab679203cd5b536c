/**
 * A recording job, from pick-up to hand-over to the upload queue. The BullMQ processor only supervises:
 * Chromium, Xvfb and ffmpeg run as child processes owned by the recorder.
 *
 *   picked → (already ended? claimed by a dead worker? past its start deadline? stopped while queued?)
 *          → recorder starts → ACTIVE at the first frame → stop / END_RECORDING / limit → ENDING
 *          → a flow: upload children + finalize parent → COMPLETE (or FAILED / LIMIT_REACHED)
 */
import { EgressStatus } from '@livekit/protocol';
import { DelayedError, type Job } from 'bullmq';
import { endWithError } from '../../shared/egress-events.ts';
import { isTerminal } from '../../shared/egress-store.ts';
import { asEgressError, ERRORS, type ErrorCode } from '../../shared/errors.ts';
import type { Logger } from 'pino';
import { poolOf } from '../../shared/egress-plan.ts';
import { RecorderLiveness } from '../../shared/liveness.ts';
import type { Admission } from '../capacity/admission.ts';
import { STOP_BEFORE_START, type RecordJobData } from '../../shared/queues.ts';
import { endLostEgress } from '../../shared/worker-lost.ts';
import { failsFast } from '../../shared/redis.ts';
import { redisKeys, RETENTION_SEC } from '../../shared/redis-keys.ts';
import { runRecording } from './session.ts';
import { finalizeWithoutRedis } from '../upload/finalize-without-redis.ts';
import type { WorkerContext } from '../worker-context.ts';

/** Marks this worker as the one running the egress. False if another worker already did (a stalled job came back). */
async function claim(ctx: WorkerContext, egressId: string): Promise<boolean> {
  const key = redisKeys.claim(ctx.config.redis.prefix, egressId);
  return (await ctx.redis.set(key, ctx.workerId, 'EX', RETENTION_SEC, 'NX')) === 'OK';
}

const aborted = (error: string, code: ErrorCode = 'EGR_ERR_ABORTED_BEFORE_START') =>
  ({ status: EgressStatus.EGRESS_ABORTED, error, errorCode: ERRORS[code].egressCode, reason: 'Failure' }) as const;

/** A job this node has no room for goes back to its queue for this long; any node with room takes it then. */
const NO_ROOM_RETRY_MS = 1000;

export function recordProcessor(ctx: WorkerContext, admission: Admission) {
  const liveness = new RecorderLiveness(ctx.redis, ctx.config.redis.prefix);
  return async (job: Job<RecordJobData>, token?: string): Promise<string> => {
    const { plan } = job.data;
    const { egressId } = plan;
    const log = ctx.log.child({ egressId, kind: plan.requestKind, worker: ctx.workerId });
    const info = await ctx.events.store.get(egressId);
    if (!info || isTerminal(info.status)) return 'already ended';
    // Past its start deadline it is not worth a slot; recordClaimed ends it.
    const overdue = (Date.now() - job.timestamp) / 1000 > ctx.config.start_deadline;
    if (!overdue && !admission.admit(plan, poolOf(plan))) {
      await job.moveToDelayed(Date.now() + NO_ROOM_RETRY_MS, token);
      throw new DelayedError();
    }
    try {
      return await claimAndRecord(ctx, liveness, job, log);
    } finally {
      admission.release(egressId);
    }
  };
}

async function claimAndRecord(ctx: WorkerContext, liveness: RecorderLiveness, job: Job<RecordJobData>, log: Logger): Promise<string> {
  const { plan } = job.data;
  const { egressId } = plan;

  if (!(await claim(ctx, egressId))) {
    // The job came back after its worker stopped renewing its lock. That recorder may still be running
    // or may be dead; either way a second recorder must not start.
    await endLostEgress(ctx, plan, 'the worker recording this egress stopped responding');
    return 'worker lost';
  }
  // From here on this worker proves it is alive, or the reaper ends the egress and salvages it.
  await liveness.beat(egressId, ctx.workerId);
  const stopBeating = liveness.keepAlive(egressId, ctx.workerId, (err) => log.warn({ err: err.message }, 'liveness beat failed'));
  try {
    return await recordClaimed(ctx, job, log);
  } finally {
    await stopBeating();
  }
}

/** The checks before recording, then the recording itself; the egress ends whatever happens. */
async function recordClaimed(ctx: WorkerContext, job: Job<RecordJobData>, log: Logger): Promise<string> {
  const { plan } = job.data;
  const { egressId } = plan;
  const waitedSec = (Date.now() - job.timestamp) / 1000;
  if (waitedSec > ctx.config.start_deadline) {
    const msg = `no ${job.queueName} worker was free to start this egress within ${ctx.config.start_deadline} s`;
    await ctx.events.end(egressId, aborted(msg, 'EGR_ERR_START_DEADLINE'));
    return 'start deadline';
  }
  if (await ctx.control.stopRequested(egressId)) {
    await ctx.events.end(egressId, { ...aborted(STOP_BEFORE_START), reason: 'StopEgress API' });
    return 'stopped before start';
  }
  try {
    return await runRecording(ctx, plan, log);
  } catch (err) {
    // A shutdown with Redis gone: nothing can be recorded there, what can be done without it is done here.
    if (failsFast(ctx.redis) && ctx.redis.status !== 'ready') return await finalizeWithoutRedis(ctx.config, plan, err as Error, log);
    const error = asEgressError(err);
    log.error({ err: error.message, code: error.code }, 'recording failed');
    const status = error.code === 'EGR_ERR_START_SIGNAL' ? EgressStatus.EGRESS_ABORTED : EgressStatus.EGRESS_FAILED;
    await ctx.events.end(egressId, endWithError(status, error));
    return `failed: ${error.code}`;
  }
}
