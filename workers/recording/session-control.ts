/**
 * A recording under control while it runs: listed in `ctx.running` (drains stop it through here too, so the
 * end reason says why), StopEgress and UpdateStream heard on the egress's channel, and a stop published
 * between the check at pick-up and the subscription still honoured.
 */
import type { Logger } from 'pino';
import type { RunningOutput } from '../outputs/output-plugin.ts';
import type { WorkerContext } from '../worker-context.ts';
import type { Recording, RecordingResult } from './recorder-contract.ts';

/** Settles as the recording does; nothing listens for it any more by then. */
export async function underControl(
  ctx: Pick<WorkerContext, 'running' | 'subscriber' | 'control'>,
  egressId: string,
  recording: Recording,
  outputs: readonly RunningOutput[],
  log: Logger,
): Promise<RecordingResult> {
  ctx.running.set(egressId, recording);
  const unlisten = await ctx.subscriber.listen(egressId, (message) => {
    if (message.type === 'stop') recording.stop(message.reason);
    else if (message.type === 'update_stream') {
      for (const output of outputs) void output.updateStream?.().catch((err: Error) => log.warn({ err: err.message }, 'UpdateStream not applied'));
    }
  });
  try {
    const lateStop = await ctx.control.stopRequested(egressId);
    if (lateStop) recording.stop(lateStop);
    return await recording.done;
  } finally {
    ctx.running.delete(egressId);
    await unlisten();
  }
}
