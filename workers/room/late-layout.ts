/**
 * UpdateLayout for an egress that had not joined its room yet. The API stores the layout, then sets the
 * recorder participant's metadata (shared/room-layout.ts); that second step finds no participant while the
 * egress is queued or its template is still loading. So the recorder opens the template with the layout stored
 * when it starts (`withStoredLayout`), and once recording — in the room by then — it reads the stored layout
 * again and passes it on if it changed meanwhile (`passLateLayout`). An UpdateLayout stored after that read
 * finds the participant in the room itself.
 */
import type { EgressInfo } from '@livekit/protocol';
import type { Logger } from 'pino';
import { layoutOf } from '../../shared/egress-layout.ts';
import type { EgressPlan } from '../../shared/egress-plan.ts';
import { pushLayout } from '../../shared/room-layout.ts';
import { recordsInProcess } from '../recording/recorder-choice.ts';
import type { WorkerContext } from '../worker-context.ts';

/** The plan with the egress's stored layout: the one an UpdateLayout set while it was queued. */
export function withStoredLayout(plan: EgressPlan, info: EgressInfo | undefined): EgressPlan {
  const layout = info && layoutOf(info);
  if (plan.source.kind !== 'template' || !layout) return plan;
  return { ...plan, source: { ...plan.source, layout } };
}

/** Whether the stored layout differs from the one the template opened with (what `passLateLayout` acts on). */
export function layoutChangedSince(plan: EgressPlan, info: EgressInfo | undefined): string | undefined {
  const layout = info && layoutOf(info);
  if (plan.source.kind !== 'template' || !layout || layout === plan.source.layout) return undefined;
  return layout;
}

/** Called once the template records: passes on an UpdateLayout that arrived while it was joining. */
export async function passLateLayout(ctx: WorkerContext, plan: EgressPlan, log: Logger): Promise<void> {
  if (plan.source.kind !== 'template' || recordsInProcess(plan)) return;
  try {
    const layout = layoutChangedSince(plan, await ctx.events.store.get(plan.egressId));
    if (layout === undefined) return;
    await pushLayout(ctx.config, plan.roomName, plan.egressId, layout);
    log.info({ layout }, 'layout updated while the recorder was joining: passed on');
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not pass a late layout to the recorder');
  }
}
