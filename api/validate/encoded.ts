/**
 * The plan of a transcoding request (room composite, web, participant, track composite, v2 StartEgress):
 * encoding options, then outputs, then one codec set for all of them — LiveKit's order of checks. The
 * stream URLs and upload configs checked on the way are its secrets.
 */
import type { EgressPlan, RequestKind, SegmentsOutputPlan } from '../../shared/egress-plan.ts';
import { audioFrequencyFor, negotiateCodecs, resolveEncoding, type Container, type EncodingOptionsChoice } from '../../shared/encoding.ts';
import { namingVarsOf } from '../../shared/naming.ts';
import type { SourceParts, ValidateContext } from './common.ts';
import { checkOutputs, type CheckedOutputs } from './outputs/check.ts';
import { filePlan } from './outputs/file.ts';
import { uploadsOf, type RequestedOutputs } from './outputs/gather.ts';
import { streamPlan } from './outputs/stream.ts';
import { validated, type Validated } from './validated.ts';

export interface EncodedRequest extends SourceParts {
  requestKind: RequestKind;
  roomName: string;
  options: EncodingOptionsChoice;
  outputs: RequestedOutputs;
  allowWebsocket: boolean;
}

/** LiveKit's keyframe interval for streams when none is asked. */
export const STREAM_KEYFRAME_INTERVAL_SEC = 4;

/** Outputs whose container constrains the codecs, in LiveKit's order (file, segments, stream). */
function containersOf(outputs: CheckedOutputs): (Container | 'default')[] {
  const all: (Container | 'default' | undefined)[] = [outputs.file?.fileType, outputs.segments ? 'hls' : undefined, outputs.stream?.protocol];
  return all.filter((c) => c !== undefined);
}

/**
 * Segments cut at their boundaries, so they own the keyframes; with a stream as well, a keyframe interval
 * shortens the segments to match. A lone stream gets a keyframe every 4 s.
 */
function keyframes(intervalSec: number, outputs: CheckedOutputs): { keyFrameIntervalSec: number; segments?: SegmentsOutputPlan } {
  const { segments, stream } = outputs;
  if (segments) {
    const segmentDurationSec =
      stream && intervalSec > 0 ? Math.max(1, Math.min(Math.floor(intervalSec), segments.segmentDurationSec)) : segments.segmentDurationSec;
    return { keyFrameIntervalSec: 0, segments: { ...segments, segmentDurationSec } };
  }
  return { keyFrameIntervalSec: intervalSec === 0 && stream ? STREAM_KEYFRAME_INTERVAL_SEC : intervalSec };
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
    outputs: containersOf(outputs),
    ...(resolved.audioCodec ? { audioCodec: resolved.audioCodec } : {}),
  });
  const { keyFrameIntervalSec, segments } = keyframes(resolved.encoding.keyFrameIntervalSec, outputs);
  const file = outputs.file && filePlan(outputs.file, codecs.fileType, vars);
  const stream = streamPlan(outputs.stream);

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
      keyFrameIntervalSec,
    },
    ...(file ? { file } : {}),
    ...(stream ? { stream } : {}),
    ...(segments ? { segments } : {}),
    images: outputs.images,
    requestedAt: ctx.now,
  };
  return validated(plan, outputs.stream?.targets ?? [], uploadsOf(request.outputs));
}
