/**
 * A request's outputs gathered into one shape, before any count or rule is applied: from the v1 fields
 * (the deprecated `output` oneof and the lists) or the v2 `outputs` list, each kind by its module (kinds.ts),
 * each stored output with its storage.
 */
import type {
  EncodedFileOutput,
  ImageOutput,
  RoomCompositeEgressRequest,
  SegmentedFileOutput,
  StartEgressRequest,
  StreamOutput,
} from '@livekit/protocol';
import { invalidField } from '../../../shared/errors.ts';
import { REQUEST_OUTPUT_KINDS } from './kinds.ts';
import type { GatheredKind } from './output-kind.ts';

/** A request's outputs in one shape, before any count or rule is applied: every kind, in registry order. */
export type RequestedOutputs = readonly GatheredKind[];

/** The v1 shape: participant requests have no deprecated `output`. */
export interface V1Outputs {
  output?: RoomCompositeEgressRequest['output'];
  fileOutputs: EncodedFileOutput[];
  streamOutputs: StreamOutput[];
  segmentOutputs: SegmentedFileOutput[];
  imageOutputs: ImageOutput[];
}

export function collectV1Outputs(request: V1Outputs): RequestedOutputs {
  return REQUEST_OUTPUT_KINDS.map((kind) => kind.fromV1(request));
}

export function collectV2Outputs(request: StartEgressRequest): RequestedOutputs {
  if (request.outputs.length === 0) throw invalidField('output');
  const collectors = REQUEST_OUTPUT_KINDS.map((kind) => kind.v2Collector(request));
  for (const output of request.outputs) {
    if (!collectors.some((collector) => collector.take(output))) throw invalidField('output config');
  }
  return collectors.map((collector) => collector.done());
}
