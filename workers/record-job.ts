/**
 * A recording job, from pick-up to hand-over to the upload queue. The BullMQ processor only supervises:
 * Chromium, Xvfb and ffmpeg run as child processes owned by the recorder.
 *
 *   picked → (already ended? claimed by a dead worker? past its start deadline? stopped while queued?)
 *          → recorder starts → ACTIVE at the first frame → stop / END_RECORDING / limit → ENDING
 *          → a flow: upload children + finalize parent → COMPLETE (or FAILED / LIMIT_REACHED)
 */
import { EgressStatus } from '@livekit/protocol';
import type { Job } from 'bullmq';
import { mkdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Logger } from 'pino';
import type { EgressPlan } from '../shared/egress-plan.ts';
import { endWithError } from '../shared/egress-events.ts';
import { isTerminal } from '../shared/egress-store.ts';
import { asEgressError, EgressError } from '../shared/errors.ts';
import { STOP_BEFORE_START, type FinalizeJobData, type RecordJobData, type UploadJobData } from '../shared/queues.ts';
import type { RecorderSettings, RecordingResult } from './media/recording.ts';
import { fileOutputTarget, manifestTarget } from './output-paths.ts';
import { recorderFor } from './recorders.ts';
import { maxDurationSec } from './session-limits.ts';
import type { WorkerContext } from './worker-context.ts';

const UPLOAD_ATTEMPTS = 5;

export function recorderSettings(ctx: WorkerContext): RecorderSettings {
  const { config } = ctx;
  return {
    chromePath: config.chrome_path,
    chromeFlags: config.chrome_flags,
    enableChromeSandbox: config.enable_chrome_sandbox,
    insecure: config.insecure,
    ffmpegPath: config.ffmpeg_path,
    startSignalTimeoutSec: config.start_signal_timeout,
  };
}

/** Marks this worker as the one running the egress. False if another worker already did (a stalled job came back). */
async function claim(ctx: WorkerContext, egressId: string): Promise<boolean> {
  const key = `${ctx.config.redis.prefix}:claim:${egressId}`;
  return (await ctx.redis.set(key, ctx.workerId, 'EX', 7 * 24 * 3600, 'NX')) === 'OK';
}

const aborted = (error: string, code = 412) => ({ status: EgressStatus.EGRESS_ABORTED, error, errorCode: code, reason: 'Failure' }) as const;

export function recordProcessor(ctx: WorkerContext) {
  return async (job: Job<RecordJobData>): Promise<string> => {
    const { plan } = job.data;
    const { egressId } = plan;
    const log = ctx.log.child({ egressId, kind: plan.requestKind, worker: ctx.workerId });
    const info = await ctx.events.store.get(egressId);
    if (!info || isTerminal(info.status)) return 'already ended';

    if (!(await claim(ctx, egressId))) {
      // The job came back after its worker stopped renewing its lock. That recorder may still be running
      // or may be dead; either way a second recorder must not start.
      const lost = new EgressError('EGR_ERR_WORKER_LOST', 'the worker running this egress stopped responding');
      await ctx.events.end(egressId, endWithError(EgressStatus.EGRESS_FAILED, lost, 'Process killed'));
      return 'worker lost';
    }
    const waitedSec = (Date.now() - job.timestamp) / 1000;
    if (waitedSec > ctx.config.start_deadline) {
      const msg = `no ${job.queueName} worker was free to start this egress within ${ctx.config.start_deadline} s`;
      await ctx.events.end(egressId, aborted(msg, 503));
      return 'start deadline';
    }
    if (await ctx.control.stopRequested(egressId)) {
      await ctx.events.end(egressId, { ...aborted(STOP_BEFORE_START), reason: 'StopEgress API' });
      return 'stopped before start';
    }
    try {
      return await record(ctx, plan, log);
    } catch (err) {
      const error = asEgressError(err);
      log.error({ err: error.message, code: error.code }, 'recording failed');
      const status = error.code === 'EGR_ERR_START_SIGNAL' ? EgressStatus.EGRESS_ABORTED : EgressStatus.EGRESS_FAILED;
      await ctx.events.end(egressId, endWithError(status, error));
      return `failed: ${error.code}`;
    }
  };
}

async function record(ctx: WorkerContext, plan: EgressPlan, log: Logger): Promise<string> {
  const { egressId } = plan;
  const recorder = recorderFor(plan);
  const workDir = join(ctx.config.tmp_dir, egressId);
  await mkdir(workDir, { recursive: true });
  const target = fileOutputTarget(plan, ctx.config.storage.prefix);
  const filePath = join(workDir, basename(target.key));

  let stopReason: string | undefined;
  let limitReached = false;
  // Limits count recorded time, from the first frame.
  const limitSec = maxDurationSec(plan, ctx.config.session_limits);
  let limitTimer: NodeJS.Timeout | undefined;
  const recording = recorder({
    plan,
    workDir,
    filePath,
    settings: recorderSettings(ctx),
    log,
    onActive: (startedAtMs) => {
      log.info('recording active');
      if (limitSec > 0) limitTimer = setTimeout(() => ((limitReached = true), stop('Session limit reached')), limitSec * 1000);
      void ctx.events.markActive(egressId, startedAtMs).catch((err) => log.error({ err: (err as Error).message }, 'cannot mark active'));
    },
  });
  const stop = (reason: string) => {
    stopReason ??= reason;
    recording.stop(reason);
  };
  // Drains stop through here too, so the end reason says why.
  ctx.running.set(egressId, { done: recording.done, stop });
  const unlisten = await ctx.subscriber.listen(egressId, (message) => message.type === 'stop' && stop(message.reason));
  let result: RecordingResult;
  try {
    // A stop published between the check at pick-up and the subscription is still honoured.
    const lateStop = await ctx.control.stopRequested(egressId);
    if (lateStop) stop(lateStop);
    result = await recording.done;
  } catch (err) {
    await rm(workDir, { recursive: true, force: true });
    throw err;
  } finally {
    clearTimeout(limitTimer);
    ctx.running.delete(egressId);
    await unlisten();
  }

  if (!result.started) {
    await rm(workDir, { recursive: true, force: true });
    const why = limitReached ? 'Session limit reached before start signal' : STOP_BEFORE_START;
    await ctx.events.end(egressId, { ...aborted(why), reason: stopReason ?? 'StopEgress API' });
    return 'stopped before start';
  }
  const reason = result.end === 'end_signal' ? 'Source closed' : (stopReason ?? 'StopEgress API');
  await ctx.events.markEnding(egressId, reason);
  if (!result.file) throw new EgressError('EGR_ERR_ENCODER_FAILED', 'the recording produced no file');

  const finalize: FinalizeJobData = {
    egressId,
    plan,
    ...(plan.file && !plan.file.disableManifest ? { manifest: manifestTarget(plan, target) } : {}),
    status: limitReached ? 'limit_reached' : 'complete',
    details: reason,
    file: { filename: target.key, localPath: result.file.path, startedAtMs: result.startedAtMs, endedAtMs: result.endedAtMs, sizeBytes: result.file.sizeBytes },
  };
  const upload: UploadJobData = {
    egressId,
    output: 'file',
    localPath: result.file.path,
    key: target.key,
    contentType: target.contentType,
    storage: target.storage,
  };
  await ctx.queues.flows().add({
    name: 'finalize',
    queueName: 'upload',
    data: finalize,
    opts: { jobId: `finalize-${egressId}` },
    children: [
      {
        name: 'upload',
        queueName: 'upload',
        data: upload,
        opts: { jobId: `upload-${egressId}-file`, attempts: UPLOAD_ATTEMPTS, backoff: { type: 'exponential', delay: 1000 }, ignoreDependencyOnFailure: true },
      },
    ],
  });
  log.info({ frames: result.stats.frames, dropped: result.stats.dropped, duplicated: result.stats.duplicated, reason }, 'recording finished; upload queued');
  return 'recorded';
}
