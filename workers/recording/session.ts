/**
 * One recording, from the recorder's start to the hand-over to the upload queue: the plan's outputs
 * (workers/outputs/output-kinds.ts) opened and wired to the recorder, control messages while it runs
 * (session-control.ts), its limits (session-limits.ts), what stopped streams mean (stream-failure.ts), how
 * its end becomes the egress's (end-reason.ts), and at the end the finalize job with the outputs' uploads as
 * its children (finalize-flow.ts), which completes the egress. A recording whose lease is lost (issue 16:
 * RecordingOptions.signal) is killed at once and writes nothing more: its working directory is left for the
 * part that takes it over. A part after a takeover that ends with no file of its own hands what the earlier
 * parts recorded to the salvage (shared/worker-lost.ts): never lost with it.
 */
import { rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import { jobBackoff } from '../../shared/backoff.ts';
import type { EgressPlan } from '../../shared/egress-plan.ts';
import { asEgressError, type EgressError } from '../../shared/errors.ts';
import type { Fence } from '../../shared/lease/fence.ts';
import type { Takeover } from '../../shared/takeover/takeover.ts';
import { uploadJobId } from '../../shared/queues.ts';
import { endLostEgress } from '../../shared/worker-lost.ts';
import { outputPluginsOf } from '../outputs/output-kinds.ts';
import type { OutputOpening, OutputPlugin, RunningOutput } from '../outputs/output-plugin.ts';
import { passLateLayout, withStoredLayout } from '../room/late-layout.ts';
import { roomIdOf } from '../room/room-sid.ts';
import type { WorkerContext } from '../worker-context.ts';
import { resolveEnd } from './end-reason.ts';
import { finalizeFlow } from './finalize-flow.ts';
import { recorderFor } from './recorder-choice.ts';
import type { Recording, RecordingOutputs, RecordingResult } from './recorder-contract.ts';
import { recorderSettings } from './recorder-settings.ts';
import { underControl } from './session-control.ts';
import { SessionLimits } from './session-limits.ts';
import { streamsStoppedEffect } from './stream-failure.ts';
import { killOnLeaseLoss } from './stop-at-once.ts';
import { HeldStop } from './held-stop.ts';
import { openPart } from '../takeover/recording-part.ts';

export { recorderSettings } from './recorder-settings.ts';

/** What the job processor gives a recording besides its plan (issue 16). */
export interface RecordingOptions {
  /** Aborted when the egress's lease is lost: the recording is killed at once and writes nothing more. */
  signal?: AbortSignal;
  /**
   * Whether this worker still owns the egress, read from the clock (LeaseKeeper.held): false already when a
   * process frozen past its lease's deadline (its recorder killed by the watchdog meanwhile) has not yet run the
   * timer that aborts `signal`.
   */
  owns?: () => boolean;
  /** The lease's fence, for writes of the recording's that carry it (ctx.events already does). */
  fence?: Fence;
  /** Set when this recording is a later part of an egress taken over from a lost worker. */
  takeover?: Takeover;
}

/** What runRecording returns when the lease was lost: nothing was written after the loss. */
export const LEASE_LOST = 'lease lost';

export async function runRecording(ctx: WorkerContext, queued: EgressPlan, log: Logger, options: RecordingOptions = {}): Promise<string> {
  const { egressId } = queued;
  const { signal, takeover } = options;
  const leaseLost = () => signal?.aborted === true || options.owns?.() === false;
  const plan = withStoredLayout(queued, await ctx.events.store.get(egressId));
  const recorder = recorderFor(plan);
  // This part's own working directory (partWorkDir), in the part log from its first frame (issue 16, item 3).
  const part = await openPart(ctx, egressId, takeover, log, options.fence);
  const { workDir } = part;
  const plugins = outputPluginsOf(plan);
  const outputs = await openOutputs(plugins, { ctx, plan, workDir, log, part });
  const otherOutputs = plugins.some((plugin) => !plugin.live);

  let stopReason: string | undefined;
  let streamsFailure: EgressError | undefined;
  const limits = SessionLimits.of(plan, ctx.config.session_limits, workDir, () => stop('Session limit reached'), part.before);
  const settings = recorderSettings(ctx);
  const recording = recorder({
    plan,
    workDir,
    outputs: wiringOf(outputs),
    settings,
    ...(ctx.warmPool ? { warmPool: ctx.warmPool } : {}),
    log,
    onActive: (startedAtMs, roomId) => {
      if (leaseLost()) return;
      log.info(takeover ? 'recording active again: resumed' : 'recording active');
      part.started(startedAtMs);
      limits.arm();
      heldStop.activated();
      void passLateLayout(ctx, plan, log);
      void roomIdOf(plan.roomName, roomId, settings.liveKit, log)
        .then((id) =>
          takeover ? ctx.events.markResumed(egressId, takeover.part - 1, startedAtMs, id) : ctx.events.markActive(egressId, startedAtMs, id),
        )
        .catch((err) => log.error({ err: (err as Error).message }, 'cannot mark active'));
    },
  });
  // A StopEgress that reaches a later part before its first frame waits for that frame (held-stop.ts).
  const heldStop = new HeldStop(takeover !== undefined, (reason) => recording.stop(reason));
  const stop = (reason: string) => {
    stopReason ??= reason;
    heldStop.request(reason);
  };
  const unwatchLease = killOnLeaseLoss(signal, egressId, () => stop(LEASE_LOST), log);
  for (const output of outputs) {
    void output.allStopped?.then((stopped) => {
      const effect = streamsStoppedEffect(stopped, otherOutputs);
      streamsFailure ??= effect.failure;
      if (effect.stopReason) stop(effect.stopReason);
    });
  }

  let result: RecordingResult;
  try {
    result = await underControl(ctx, egressId, { done: recording.done, stop } satisfies Recording, outputs, log);
  } catch (err) {
    await closeOutputs(outputs);
    if (leaseLost()) return LEASE_LOST;
    await rm(workDir, { recursive: true, force: true });
    if (plan.file && part.earlier.length > 0) return await salvageEarlierParts(ctx, plan, `failed: ${asEgressError(err).message}`);
    throw err;
  } finally {
    heldStop.clear();
    limits.clear();
    unwatchLease();
    await part.ended();
  }
  await closeOutputs(outputs);
  // Whatever it recorded is the next part's to use; its end is not this worker's to record.
  if (leaseLost()) return LEASE_LOST;
  if (!result.started) await rm(workDir, { recursive: true, force: true });

  const how = { stopReason, limitReached: limits.reached, streamsFailure, leaseLost, earlierParts: part.earlier.length };
  return await handOver(ctx, plan, outputs, result, how, log);
}

/**
 * The end of a recording that kept its lease: aborted (nothing recorded), failed (thrown), or ENDING with the
 * finalize job queued, the outputs' uploads as its children, which completes the egress.
 */
async function handOver(
  ctx: WorkerContext,
  plan: EgressPlan,
  outputs: readonly RunningOutput[],
  result: RecordingResult,
  how: {
    stopReason: string | undefined;
    limitReached: boolean;
    streamsFailure: EgressError | undefined;
    leaseLost: () => boolean;
    /** Parts recorded before this one, by workers since lost. */
    earlierParts: number;
  },
  log: Logger,
): Promise<string> {
  const { egressId } = plan;
  const { stopReason, limitReached, streamsFailure } = how;
  const end = resolveEnd({ result, stopReason, limitReached, streamsFailure, fileRecorded: Boolean(plan.file && result.file) });
  if (end.kind !== 'ending' && plan.file && how.earlierParts > 0) {
    return await salvageEarlierParts(ctx, plan, end.kind === 'failed' ? `failed: ${end.error.message}` : `recorded nothing: ${end.end.error}`);
  }
  if (end.kind === 'failed') throw end.error;
  if (end.kind === 'aborted') {
    await ctx.events.end(egressId, end.end);
    return end.outcome;
  }
  await ctx.events.markEnding(egressId, end.reason);
  const flow = await finalizeFlow(plan, outputs, result, end);
  // Lost meanwhile (its ENDING refused by the fence): the finalize job is not this worker's to queue. Held now,
  // the lease cannot be another's for a safety margin more: longer than the add takes.
  if (how.leaseLost()) return LEASE_LOST;
  await ctx.queues.flows().add({
    name: 'finalize',
    queueName: 'upload',
    data: flow.data,
    opts: { jobId: uploadJobId.finalize(egressId), attempts: 5, backoff: jobBackoff(2000) },
    children: flow.children,
  });
  if (result.failure) log.warn({ ...result.stats, err: result.failure.message }, 'recording failed; what was recorded until then is delivered');
  else log.info({ ...result.stats, reason: end.reason }, 'recording finished; uploads queued');
  return 'recorded';
}

/**
 * A part after a takeover that delivers no file of its own (stopped or failed before its first frame, or failed
 * without a file): the file the earlier parts recorded is not lost with it. The egress ends FAILED with why, and
 * the salvage delivers every part's capture joined, as when no worker takes over in time.
 */
async function salvageEarlierParts(ctx: WorkerContext, plan: EgressPlan, what: string): Promise<string> {
  await endLostEgress(ctx, plan, `the worker resuming this egress after its recorder was lost ${what}`);
  return 'earlier parts salvaged';
}

/** Opened in registry order, one after the other. */
async function openOutputs(plugins: readonly OutputPlugin[], opening: OutputOpening): Promise<RunningOutput[]> {
  const outputs: RunningOutput[] = [];
  for (const plugin of plugins) outputs.push(await plugin.open(opening));
  return outputs;
}

/** The recorder's view of the outputs: each kind's entry. */
function wiringOf(outputs: readonly RunningOutput[]): RecordingOutputs {
  return outputs.reduce<RecordingOutputs>((all, output) => ({ ...all, ...output.wiring }), {});
}

async function closeOutputs(outputs: readonly RunningOutput[]): Promise<void> {
  for (const output of outputs) await output.close?.();
}
