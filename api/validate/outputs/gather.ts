/**
 * A request's outputs gathered into one shape, before any count or rule is applied: from the v1 fields
 * (the deprecated `output` oneof and the lists) or the v2 `outputs` list, each with its storage.
 */
import type {
  EncodedFileOutput,
  EncodedFileType,
  ImageOutput,
  RoomCompositeEgressRequest,
  SegmentedFileOutput,
  StartEgressRequest,
  StreamOutput,
} from '@livekit/protocol';
import type { Message } from '@bufbuild/protobuf';
import type { StorageTarget } from '../../../shared/egress-plan.ts';
import { invalidField } from '../../../shared/errors.ts';
import { storageTarget, v2Upload, type UploadChoice } from './upload-storage.ts';

export interface FileRequest {
  fileType: EncodedFileType;
  filepath: string;
  disableManifest: boolean;
  upload: UploadChoice;
  storage: StorageTarget;
}

export interface Stored<T> {
  output: T;
  upload: UploadChoice;
  storage: StorageTarget;
}

/** A request's outputs in one shape, before any count or rule is applied. */
export interface RequestedOutputs {
  files: FileRequest[];
  streams: StreamOutput[];
  segments: Stored<SegmentedFileOutput>[];
  images: Stored<ImageOutput>[];
}

/** The upload configs of every stored output: the request's storage secrets. */
export function uploadsOf(requested: RequestedOutputs): UploadChoice[] {
  return [...requested.files, ...requested.segments, ...requested.images].map((output) => output.upload);
}

const placed = (upload: UploadChoice) => ({ upload, storage: storageTarget(upload) });
const stored = <T>(output: T, upload: UploadChoice): Stored<T> => ({ output, ...placed(upload) });

/**
 * The official SDK sends one output twice: in the deprecated oneof and in the list. Equal, they are one
 * output; different, they are two (and the count rule refuses them).
 */
function withLegacy<T extends Message<T>>(list: readonly T[], legacy: T | undefined): T[] {
  if (!legacy || list.some((item) => item.equals(legacy))) return [...list];
  return [legacy, ...list];
}

/** The v1 shape: participant requests have no deprecated `output`. */
export interface V1Outputs {
  output?: RoomCompositeEgressRequest['output'];
  fileOutputs: EncodedFileOutput[];
  streamOutputs: StreamOutput[];
  segmentOutputs: SegmentedFileOutput[];
  imageOutputs: ImageOutput[];
}

export function collectV1Outputs(request: V1Outputs): RequestedOutputs {
  const legacy = request.output;
  const files = withLegacy(request.fileOutputs, legacy?.case === 'file' ? legacy.value : undefined);
  return {
    files: files.map((f) => ({ fileType: f.fileType, filepath: f.filepath, disableManifest: f.disableManifest, ...placed(f.output) })),
    streams: withLegacy(request.streamOutputs, legacy?.case === 'stream' ? legacy.value : undefined),
    segments: withLegacy(request.segmentOutputs, legacy?.case === 'segments' ? legacy.value : undefined).map((s) => stored(s, s.output)),
    images: request.imageOutputs.map((i) => stored(i, i.output)),
  };
}

export function collectV2Outputs(request: StartEgressRequest): RequestedOutputs {
  if (request.outputs.length === 0) throw invalidField('output');
  const gathered: RequestedOutputs = { files: [], streams: [], segments: [], images: [] };
  for (const { config, storage } of request.outputs) {
    switch (config.case) {
      case 'file': {
        const { fileType, filepath, disableManifest } = config.value;
        gathered.files.push({ fileType, filepath, disableManifest, ...placed(v2Upload(storage, request.storage)) });
        break;
      }
      case 'stream':
        gathered.streams.push(config.value);
        break;
      case 'segments':
        gathered.segments.push(stored(config.value, v2Upload(storage, request.storage, config.value.output)));
        break;
      case 'images':
        gathered.images.push(stored(config.value, v2Upload(storage, request.storage, config.value.output)));
        break;
      default:
        throw invalidField('output config');
    }
  }
  return gathered;
}
