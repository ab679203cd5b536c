/**
 * One recording, from the recorder's start to the hand-over to the upload queue: the plan's outputs
 * (workers/outputs/output-kinds.ts) opened and wired to the recorder, control messages while it runs
 * (session-control.ts), its limits (session-limits.ts), what stopped streams mean (stream-failure.ts), how
 * its end becomes the egress's (end-reason.ts), and at the end the finalize job with the outputs' uploads as
 * its children (finalize-flow.ts), which completes the egress.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { jobBackoff } from '../../shared/backoff.ts';
import type { EgressPlan } from '../../shared/egress-plan.ts';
import type { EgressError } from '../../shared/errors.ts';
import { uploadJobId } from '../../shared/queues.ts';
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

export { recorderSettings } from './recorder-settings.ts';

export async function runRecording(ctx: WorkerContext, queued: EgressPlan, log: Logger): Promise<string> {
  const { egressId } = queued;
  const plan = withStoredLayout(queued, await ctx.events.store.get(egressId));
  const recorder = recorderFor(plan);
  const workDir = join(ctx.config.tmp_dir, egressId);
  await mkdir(workDir, { recursive: true });
  const plugins = outputPluginsOf(plan);
  const outputs = await openOutputs(plugins, { ctx, plan, workDir, log });
  const otherOutputs = plugins.some((plugin) => !plugin.live);

  let stopReason: string | undefined;
  let streamsFailure: EgressError | undefined;
  const limits = SessionLimits.of(plan, ctx.config.session_limits, workDir, () => stop('Session limit reached'));
  const settings = recorderSettings(ctx);
  const recording = recorder({
    plan,
    workDir,
    outputs: wiringOf(outputs),
    settings,
    ...(ctx.warmPool ? { warmPool: ctx.warmPool } : {}),
    log,
    onActive: (startedAtMs, roomId) => {
      log.info('recording active');
      limits.arm();
      void passLateLayout(ctx, plan, log);
      void roomIdOf(plan.roomName, roomId, settings.liveKit, log)
        .then((id) => ctx.events.markActive(egressId, startedAtMs, id))
        .catch((err) => log.error({ err: (err as Error).message }, 'cannot mark active'));
    },
  });
  const stop = (reason: string) => {
    stopReason ??= reason;
    recording.stop(reason);
  };
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
    await rm(workDir, { recursive: true, force: true });
    throw err;
  } finally {
    limits.clear();
  }
  await closeOutputs(outputs);
  if (!result.started) await rm(workDir, { recursive: true, force: true });

  const end = resolveEnd({ result, stopReason, limitReached: limits.reached, streamsFailure, fileRecorded: Boolean(plan.file && result.file) });
  if (end.kind === 'failed') throw end.error;
  if (end.kind === 'aborted') {
    await ctx.events.end(egressId, end.end);
    return end.outcome;
  }
  await ctx.events.markEnding(egressId, end.reason);
  const flow = await finalizeFlow(plan, outputs, result, end);
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
