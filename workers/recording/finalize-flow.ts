/**
 * The hand-over of a finished recording: the finalize job's data (status, reason, each output's results,
 * where the manifest goes) and its children (the outputs' uploads), which the session queues as one BullMQ
 * flow so that the finalize job runs once every upload is done.
 */
import type { EgressPlan } from '../../shared/egress-plan.ts';
import type { FinalizeJobData } from '../../shared/queues.ts';
import type { FlowChild, RunningOutput } from '../outputs/output-plugin.ts';
import { manifestTarget } from '../outputs/output-paths.ts';
import type { RecordingResult } from './recorder-contract.ts';

export interface FinalizeFlow {
  data: FinalizeJobData;
  children: FlowChild[];
}

/** Each output finishes in registry order: the manifest goes beside the first that offers a place. */
export async function finalizeFlow(
  plan: EgressPlan,
  outputs: readonly RunningOutput[],
  result: RecordingResult,
  ending: { reason: string; status: FinalizeJobData['status'] },
): Promise<FinalizeFlow> {
  const data: FinalizeJobData = {
    egressId: plan.egressId,
    plan,
    status: ending.status,
    details: ending.reason,
    ...(result.failure ? { error: { message: result.failure.message, code: result.failure.egressCode } } : {}),
  };
  const children: FlowChild[] = [];
  for (const output of outputs) {
    if (!output.finish) continue;
    const part = await output.finish(result);
    Object.assign(data, part.data);
    children.push(...part.uploads);
    if (part.manifestBeside && !data.manifest) data.manifest = manifestTarget(plan, part.manifestBeside);
  }
  if (result.namingVars) data.learnt = result.namingVars;
  return { data, children };
}
