/**
 * A recording job, from pick-up to hand-over to the upload queue. The BullMQ processor only supervises:
 * Chromium, Xvfb and ffmpeg run as child processes owned by the recorder.
 *
 *   picked → (already ended? held by another worker, or its part begun elsewhere? past its start deadline?
 *            stopped while queued?) → the egress's lease (lease-guard.ts), kept while it records
 *          → recorder starts → ACTIVE at the first frame (a takeover's part: resumed) → stop / END_RECORDING /
 *            limit → ENDING → a flow: upload children + finalize parent → COMPLETE (or FAILED / LIMIT_REACHED)
 *          → lease lost on the way: the recorder is killed, nothing more is written, 'lease lost'
 *
 * Every status and result write of the recording carries the lease's fence (EgressEvents.withFence), so a
 * worker that lost the egress to a takeover has its late writes refused.
 */
import { EgressStatus } from '@livekit/protocol';
import { DelayedError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { STOP_EGRESS_API } from '../../shared/control.ts';
import { endWithError } from '../../shared/egress-events.ts';
import { poolOf } from '../../shared/egress-plan.ts';
import { isTerminal } from '../../shared/egress-store.ts';
import { asEgressError, ERRORS, type ErrorCode } from '../../shared/errors.ts';
import { STOP_BEFORE_START, type RecordJobData } from '../../shared/queues.ts';
import { failsFast } from '../../shared/redis.ts';
import { endLostEgress } from '../../shared/worker-lost.ts';
import type { Admission } from '../capacity/admission.ts';
import { finalizeWithoutRedis } from '../upload/finalize-without-redis.ts';
import type { WorkerContext } from '../worker-context.ts';
import { LeaseGuard } from './lease-guard.ts';
import { LEASE_LOST, runRecording } from './session.ts';

const aborted = (error: string, code: ErrorCode = 'EGR_ERR_ABORTED_BEFORE_START') =>
  ({ status: EgressStatus.EGRESS_ABORTED, error, errorCode: ERRORS[code].egressCode, reason: 'Failure' }) as const;

/** A job this node has no room for goes back to its queue for this long; any node with room takes it then. */
const NO_ROOM_RETRY_MS = 1000;
/** A job whose egress's lease is held for a moment by a stale job (about to let it go) tries again after this. */
const LEASE_BUSY_RETRY_MS = 250;

export function recordProcessor(ctx: WorkerContext, admission: Admission) {
  return async (job: Job<RecordJobData>, token?: string): Promise<string> => {
    const { plan, takeover } = job.data;
    const { egressId } = plan;
    const part = takeover?.part ?? 1;
    const log = ctx.log.child({ egressId, part, kind: plan.requestKind, worker: ctx.workerId });
    const info = await ctx.events.store.get(egressId);
    if (!info || isTerminal(info.status)) return 'already ended';
    // Past its start deadline it is not worth a slot; recordHeld ends it.
    const overdue = waitedSec(job) > ctx.config.start_deadline;
    if (!overdue && !admission.admit(plan, poolOf(plan))) return later(job, token, NO_ROOM_RETRY_MS);
    try {
      const guarding = await LeaseGuard.take(ctx, egressId, part, log);
      if (guarding.kind === 'busy') {
        log.info({ holder: guarding.holder }, 'lease held for now; trying again');
        return await later(job, token, LEASE_BUSY_RETRY_MS);
      }
      if (guarding.kind === 'elsewhere') {
        // A stalled job back after its worker was lost, or a part another worker records: never end the egress.
        log.info({ why: guarding.why }, 'taken over elsewhere: nothing to do');
        return 'taken over elsewhere';
      }
      const { guard } = guarding;
      try {
        return await recordHeld(ctx, job, guard, log);
      } finally {
        await guard.release(log);
      }
    } finally {
      admission.release(egressId);
    }
  };
}

/** Seconds the job has waited: since it was queued, or for a takeover's part since the egress's recorder was lost. */
function waitedSec(job: Job<RecordJobData>): number {
  return (Date.now() - (job.data.takeover?.lostAtMs ?? job.timestamp)) / 1000;
}

async function later(job: Job<RecordJobData>, token: string | undefined, ms: number): Promise<never> {
  await job.moveToDelayed(Date.now() + ms, token);
  throw new DelayedError();
}

/** The checks before recording, then the recording itself, under the lease; the egress ends whatever happens, unless the lease is lost. */
async function recordHeld(ctx: WorkerContext, job: Job<RecordJobData>, guard: LeaseGuard, log: Logger): Promise<string> {
  const { plan, takeover } = job.data;
  const { egressId } = plan;
  // Every write of this recording goes through the fence: its status and results, its segment log (and its part log, RecordingOptions.fence).
  const owner: WorkerContext = { ...ctx, events: ctx.events.withFence(guard.fence), segments: ctx.segments.withFence(guard.fence) };
  if (waitedSec(job) > ctx.config.start_deadline) {
    const msg = `no ${job.queueName} worker was free to start this egress within ${ctx.config.start_deadline} s`;
    if (takeover) await endLostEgress(owner, plan, `the worker recording this egress was lost, and ${msg.replace('start', 'resume')}`);
    else await owner.events.end(egressId, aborted(msg, 'EGR_ERR_START_DEADLINE'));
    return 'start deadline';
  }
  // Stopped while queued. A takeover's part stopped in the gap records on to its first frame, then stops
  // (runRecording): the egress ends as a stop ends it, every part in its outputs.
  if (!takeover && (await ctx.control.stopRequested(egressId))) {
    await owner.events.end(egressId, { ...aborted(STOP_BEFORE_START), reason: STOP_EGRESS_API });
    return 'stopped before start';
  }
  try {
    const owns = () => guard.keeper.held;
    return await runRecording(owner, plan, log, { signal: guard.signal, owns, fence: guard.fence, ...(takeover ? { takeover } : {}) });
  } catch (err) {
    // Lost (also while frozen, before the keeper's timer has run): nothing more is this worker's to write.
    if (!guard.keeper.held) return LEASE_LOST;
    // A shutdown with Redis gone: nothing can be recorded there, what can be done without it is done here.
    if (failsFast(ctx.redis) && ctx.redis.status !== 'ready') return await finalizeWithoutRedis(ctx.config, plan, err as Error, log, takeover?.part);
    const error = asEgressError(err);
    log.error({ err: error.message, code: error.code }, 'recording failed');
    const status = error.code === 'EGR_ERR_START_SIGNAL' ? EgressStatus.EGRESS_ABORTED : EgressStatus.EGRESS_FAILED;
    await owner.events.end(egressId, endWithError(status, error));
    return `failed: ${error.code}`;
  }
}
