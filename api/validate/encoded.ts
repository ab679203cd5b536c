/**
 * The plan of a transcoding request (room composite, web, participant, track composite, v2 StartEgress):
 * encoding options, then outputs, then one codec set for all of them — LiveKit's order of checks. Each
 * output kind gives its part of the plan and its secrets (outputs/kinds.ts): nothing here names a kind.
 */
import type { EgressPlan, RequestKind } from '../../shared/egress-plan.ts';
import { audioFrequencyFor, negotiateCodecs, resolveEncoding, type Container, type EncodingOptionsChoice } from '../../shared/encoding.ts';
import { namingVarsOf } from '../../shared/naming.ts';
import type { SourceParts, ValidateContext } from './common.ts';
import { checkOutputs } from './outputs/check.ts';
import type { RequestedOutputs } from './outputs/gather.ts';
import { CONTAINER_ORDER } from './outputs/kinds.ts';
import type { CheckedKind, OutputsPlan } from './outputs/output-kind.ts';
import { validated, type Validated } from './validated.ts';

export interface EncodedRequest extends SourceParts {
  requestKind: RequestKind;
  roomName: string;
  options: EncodingOptionsChoice;
  outputs: RequestedOutputs;
  allowWebsocket: boolean;
}

/** Outputs whose container constrains the codecs, in LiveKit's order (CONTAINER_ORDER: file, segments, stream). */
function containersOf(kinds: readonly CheckedKind[]): (Container | 'default')[] {
  return CONTAINER_ORDER.flatMap((name) => kinds.find((kind) => kind.name === name)?.container ?? []);
}

/**
 * A kind cut at keyframes (segments) owns them: the encoder's interval is left at 0. Otherwise the requested
 * one, or when none is asked the one a kind needs (a lone stream gets a keyframe every 4 s).
 */
function keyFrameInterval(requestedSec: number, kinds: readonly CheckedKind[]): number {
  if (kinds.some((kind) => kind.ownsKeyframes)) return 0;
  if (requestedSec !== 0) return requestedSec;
  return Math.max(0, ...kinds.map((kind) => kind.defaultKeyframeSec ?? 0));
}

export function encodedPlan(request: EncodedRequest, ctx: ValidateContext): Validated {
  const { requestKind, roomName, source } = request;
  const resolved = resolveEncoding(request.options, ctx.limits);
  const vars = namingVarsOf({ source, roomName, requestedAt: ctx.now });
  const outputs = checkOutputs(request.outputs, {
    audio: request.audio,
    video: request.video,
    encoding: resolved.encoding,
    vars,
    allowWebsocket: request.allowWebsocket,
    limits: ctx.limits,
  });
  const codecs = negotiateCodecs({
    audio: outputs.audio,
    video: outputs.video,
    videoCodecRequested: resolved.videoCodecRequested,
    outputs: containersOf(outputs.kinds),
    ...(resolved.audioCodec ? { audioCodec: resolved.audioCodec } : {}),
  });
  const requestedKeyframeSec = resolved.encoding.keyFrameIntervalSec;
  const parts = outputs.kinds.map((kind) =>
    kind.plan({
      ...(codecs.fileType ? { chosenFileType: codecs.fileType } : {}),
      vars,
      keyFrameIntervalSec: requestedKeyframeSec,
      liveAlongside: outputs.kinds.some((other) => other !== kind && other.live),
    }),
  );

  const plan: EgressPlan = {
    egressId: ctx.egressId,
    requestKind,
    roomName,
    source,
    audio: outputs.audio,
    video: outputs.video,
    encoding: {
      ...resolved.encoding,
      audioCodec: codecs.audioCodec,
      audioFrequency: audioFrequencyFor(codecs.audioCodec, resolved.encoding.audioFrequency),
      keyFrameIntervalSec: keyFrameInterval(requestedKeyframeSec, outputs.kinds),
    },
    images: [],
    ...parts.reduce<OutputsPlan>((all, part) => ({ ...all, ...part }), {}),
    requestedAt: ctx.now,
  };
  const targets = outputs.kinds.flatMap((kind) => kind.streamTargets ?? []);
  return validated(
    plan,
    targets,
    request.outputs.flatMap((kind) => kind.uploads),
  );
}
