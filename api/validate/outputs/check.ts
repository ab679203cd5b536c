/**
 * The rules across a request's outputs (egress `pkg/config/output*.go`): each kind's counts, bounds and
 * checks by its module, walked phase by phase in the registry's order (kinds.ts says which and why), and
 * what the outputs imply for audio and video. The order of the checks is LiveKit's, so a request with
 * several faults is refused for the same one.
 */
import { invalidField } from '../../../shared/errors.ts';
import type { RequestedOutputs } from './gather.ts';
import type { OutputContext } from './output-context.ts';
import type { CheckedKind, GatheredKind } from './output-kind.ts';

export interface CheckedOutputs {
  /** The kinds requested, checked, in registry order. */
  kinds: CheckedKind[];
  /** audio / video once the outputs had their say (WebSocket: no video; images only: no audio). */
  audio: boolean;
  video: boolean;
}

/** Counts, bounds, per-kind rules, and what the outputs imply for audio and video. */
export function checkOutputs(requested: RequestedOutputs, ctx: OutputContext): CheckedOutputs {
  for (const kind of requested) kind.checkCount(ctx.limits);
  for (const kind of requested) kind.checkBounds?.(ctx.limits);
  const check = (kind: GatheredKind, video: boolean) =>
    kind.check({ ...ctx, video, othersRequested: requested.some((other) => other !== kind && other.requested > 0) }) ?? [];

  const early = requested.filter((kind) => !kind.late).flatMap((kind) => check(kind, ctx.video));
  const video = ctx.video && !early.some((kind) => kind.noVideo);
  const late = requested.filter((kind) => kind.late).flatMap((kind) => check(kind, video));
  const kinds = [...early, ...late];

  if (kinds.length === 0) throw invalidField('output');
  // Images alone: nothing would carry the audio.
  const audio = ctx.audio && kinds.some((kind) => kind.carriesAudio);
  return { kinds, audio, video };
}
