/**
 * The outputs of a request (egress `pkg/config/output*.go`, `storage.go`): gathered from the v1 fields or
 * the v2 `outputs` list into one shape, counted, and each checked. Credentials stay in the request:
 * outputs carry a `StorageTarget`, which names a bucket and nothing secret.
 */
import {
  EncodedFileType,
  ImageCodec,
  ImageFileSuffix,
  SegmentedFileProtocol,
  SegmentedFileSuffix,
  StreamProtocol,
  type EncodedFileOutput,
  type ImageOutput,
  type RoomCompositeEgressRequest,
  type S3Upload,
  type SegmentedFileOutput,
  type StartEgressRequest,
  type StorageConfig,
  type StreamOutput,
} from '@livekit/protocol';
import type { Message } from '@bufbuild/protobuf';
import { createHash } from 'node:crypto';
import { pathPolicyOf, type EncodingPlan, type FileType, type ImageOutputPlan, type SegmentsOutputPlan, type StorageTarget } from '../../shared/egress-plan.ts';
import type { SealedUpload } from '../../shared/egress-secrets.ts';
import { noCompatibleCodec, fileTypeOf } from '../../shared/encoding.ts';
import { EgressError, invalidField } from '../../shared/errors.ts';
import { sizeProblem, type Limits } from '../../shared/limits.ts';
import { resolveImagePrefix, resolveOutputPath, resolveSegmentNames, type NamingVars } from '../../shared/naming.ts';
import { IMAGE_SUFFIX_LENGTH, SEGMENT_SUFFIX_LENGTH, checkStorageKey } from './storage-keys.ts';
import { protocolOfUrl, resolveStreamUrl, type ResolvedStreamUrl, type StreamProtocolName } from './stream-url.ts';

// ---- storage ----

/** A per-output upload oneof (v1) or StorageConfig.provider (v2): the same four members. */
export type UploadChoice = EncodedFileOutput['output'];

const required = (value: string, field: string): string => {
  if (value === '') throw invalidField(field);
  return value;
};

/** LiveKit needs its server's own AssumeRole key for an ARN without an access key; we have none. */
function checkS3(s3: S3Upload): void {
  if (s3.assumeRoleArn && !s3.accessKey) throw new EgressError('EGR_ERR_PERMISSION_DENIED', 'S3 upload using AssumeRole is disabled for this account');
}

/**
 * Names a request's upload config without revealing it: a digest of the whole message, so one config used
 * by several outputs has one ref, and the job data that carries it holds nothing secret.
 */
function uploadRef(upload: Exclude<UploadChoice, { case: undefined }>): string {
  return `${upload.case}-${createHash('sha256').update(upload.case).update(upload.value.toBinary()).digest('hex').slice(0, 16)}`;
}

/** Where an output goes; no upload config = the service's own storage. */
export function storageTarget(upload: UploadChoice): StorageTarget {
  switch (upload.case) {
    case 's3':
      checkS3(upload.value);
      return { kind: 's3', bucket: required(upload.value.bucket, 's3.bucket'), ref: uploadRef(upload) };
    case 'gcp':
      return { kind: 'gcp', bucket: required(upload.value.bucket, 'gcp.bucket'), ref: uploadRef(upload) };
    case 'azure':
      return { kind: 'azure', container: required(upload.value.containerName, 'azure.container_name'), ref: uploadRef(upload) };
    case 'aliOSS':
      required(upload.value.bucket, 'aliOSS.bucket');
      throw new EgressError('EGR_ERR_NOT_SUPPORTED', 'AliOSS storage is not supported by this version of egress-queue');
    default:
      return { kind: 'service' };
  }
}

/** The sealed form of upload configs, by ref: what a worker resolves at upload time. */
export function sealUploads(uploads: readonly UploadChoice[]): Record<string, SealedUpload> {
  const sealed: Record<string, SealedUpload> = {};
  for (const upload of uploads) {
    if (upload.case !== undefined) sealed[uploadRef(upload)] = { kind: upload.case, json: upload.value.toJsonString() };
  }
  return sealed;
}

// ---- gathering ----

interface FileRequest {
  fileType: EncodedFileType;
  filepath: string;
  disableManifest: boolean;
  upload: UploadChoice;
  storage: StorageTarget;
}

interface Stored<T> {
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

/**
 * v2 storage: the output's, else the request's, else (our addition; LiveKit ignores it) the deprecated
 * upload inside a segments or images message, else the service's.
 */
export function v2Upload(perOutput: StorageConfig | undefined, request: StorageConfig | undefined, own: UploadChoice = { case: undefined }): UploadChoice {
  return [perOutput?.provider, request?.provider].find((p) => p?.case !== undefined) ?? own;
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

// ---- rules ----

export interface OutputContext {
  audio: boolean;
  video: boolean;
  /** Image sizes default to it. */
  encoding: EncodingPlan;
  /** For checking names now, with what is known at request time. */
  vars: NamingVars;
  /** Only v2 StartEgress streams to a WebSocket (v1 has TrackEgress.websocket_url for that). */
  allowWebsocket: boolean;
  limits: Limits;
}

export interface DraftFile {
  /** `default` until the codecs choose. */
  fileType: FileType | 'default';
  filepath: string;
  disableManifest: boolean;
  storage: StorageTarget;
}

export interface DraftStream {
  protocol: StreamProtocolName;
  targets: ResolvedStreamUrl[];
}

export interface CheckedOutputs {
  file?: DraftFile;
  stream?: DraftStream;
  segments?: SegmentsOutputPlan;
  images: ImageOutputPlan[];
  /** audio / video once the outputs had their say (WebSocket: no video; images only: no audio). */
  audio: boolean;
  video: boolean;
}

/** At most one of each, LiveKit's messages. */
function single<T>(list: readonly T[], field: string): T | undefined {
  if (list.length > 1) throw invalidField(field);
  return list[0];
}

function checkFile(file: FileRequest, vars: NamingVars): DraftFile {
  const fileType = fileTypeOf(file.fileType);
  if (!fileType) throw invalidField('file_type');
  resolveOutputPath(file.filepath, vars, '', pathPolicyOf(file.storage));
  return { fileType, filepath: file.filepath, disableManifest: file.disableManifest, storage: file.storage };
}

const STREAM_PROTOCOLS: ReadonlyMap<StreamProtocol, StreamProtocolName> = new Map([
  [StreamProtocol.RTMP, 'rtmp'],
  [StreamProtocol.SRT, 'srt'],
  [StreamProtocol.WEBSOCKET, 'websocket'],
]);

export function checkStream(stream: StreamOutput, allowWebsocket: boolean): DraftStream {
  let protocol: StreamProtocolName | undefined;
  if (stream.protocol === StreamProtocol.DEFAULT_PROTOCOL) {
    if (stream.urls.length === 0) throw invalidField('stream protocol');
    protocol = protocolOfUrl(stream.urls[0]!);
  } else {
    protocol = STREAM_PROTOCOLS.get(stream.protocol);
    if (!protocol) throw invalidField('stream protocol');
  }
  if (protocol === 'websocket' && !allowWebsocket) throw invalidField('stream protocol', 'WebSocket output is TrackEgress websocket_url or a v2 StartEgress stream');
  return { protocol, targets: stream.urls.map((url) => resolveStreamUrl(url, protocol)) };
}

const SEGMENT_SUFFIX: ReadonlyMap<SegmentedFileSuffix, SegmentsOutputPlan['filenameSuffix']> = new Map([
  [SegmentedFileSuffix.INDEX, 'index'],
  [SegmentedFileSuffix.TIMESTAMP, 'timestamp'],
]);

const HLS_PROTOCOLS: ReadonlySet<SegmentedFileProtocol> = new Set([SegmentedFileProtocol.DEFAULT_SEGMENTED_FILE_PROTOCOL, SegmentedFileProtocol.HLS_PROTOCOL]);

export const DEFAULT_SEGMENT_DURATION_SEC = 4;

/** A uint32 count of seconds: 0 is the default, anything else at most `max` (2^32-1 s would be 136 years). */
function seconds(value: number, max: number, fallback: number, field: string): number {
  if (value > max) throw invalidField(field, `must be at most ${max} s`);
  return value || fallback;
}

function checkSegments({ output, storage }: Stored<SegmentedFileOutput>, ctx: OutputContext): SegmentsOutputPlan {
  if (!HLS_PROTOCOLS.has(output.protocol)) throw invalidField('protocol');
  const filenameSuffix = SEGMENT_SUFFIX.get(output.filenameSuffix);
  if (!filenameSuffix) throw invalidField('filename_suffix');
  const segmentDurationSec = seconds(output.segmentDuration, ctx.limits.max_segment_duration, DEFAULT_SEGMENT_DURATION_SEC, 'segment_duration');
  const names = resolveSegmentNames(output, ctx.vars, pathPolicyOf(storage));
  checkStorageKey(names.dir + names.playlist, 0, storage, 'playlist_name');
  checkStorageKey(names.dir + names.livePlaylist, 0, storage, 'live_playlist_name');
  checkStorageKey(names.dir + names.segmentPrefix, SEGMENT_SUFFIX_LENGTH, storage, 'filename_prefix');
  return {
    filenamePrefix: output.filenamePrefix,
    playlistName: output.playlistName,
    livePlaylistName: output.livePlaylistName,
    segmentDurationSec,
    filenameSuffix,
    disableManifest: output.disableManifest,
    storage,
  };
}

const IMAGE_SUFFIX: ReadonlyMap<ImageFileSuffix, ImageOutputPlan['filenameSuffix']> = new Map([
  [ImageFileSuffix.IMAGE_SUFFIX_INDEX, 'index'],
  [ImageFileSuffix.IMAGE_SUFFIX_TIMESTAMP, 'timestamp'],
  [ImageFileSuffix.IMAGE_SUFFIX_NONE_OVERWRITE, 'none_overwrite'],
]);

const JPEG_CODECS: ReadonlySet<ImageCodec> = new Set([ImageCodec.IC_DEFAULT, ImageCodec.IC_JPEG]);

export const DEFAULT_CAPTURE_INTERVAL_SEC = 10;

/**
 * An image side: 0 takes the encoding's (LiveKit sizes SDK-source images from the track; we use the
 * encoding size for every source); a negative one is refused, as ffmpeg would.
 */
function imageSide(value: number, fallback: number, field: string): number {
  if (value < 0) throw invalidField(field, 'must not be negative');
  return value || fallback;
}

function checkImages({ output, storage }: Stored<ImageOutput>, ctx: OutputContext): ImageOutputPlan {
  if (!JPEG_CODECS.has(output.imageCodec)) throw noCompatibleCodec();
  const filenameSuffix = IMAGE_SUFFIX.get(output.filenameSuffix);
  if (!filenameSuffix) throw invalidField('filename_suffix');
  const captureIntervalSec = seconds(output.captureInterval, ctx.limits.max_capture_interval, DEFAULT_CAPTURE_INTERVAL_SEC, 'capture_interval');
  const width = imageSide(output.width, ctx.encoding.width, 'image width');
  const height = imageSide(output.height, ctx.encoding.height, 'image height');
  // The screen's bounds, but odd sides are fine: a JPEG has no 4:2:0 constraint.
  const size = sizeProblem(ctx.limits, width, height, false);
  if (size) throw invalidField(`image ${size.side}`, size.detail);
  const names = resolveImagePrefix(output.filenamePrefix, ctx.vars, pathPolicyOf(storage));
  checkStorageKey(names.dir + names.prefix, IMAGE_SUFFIX_LENGTH, storage, 'filename_prefix');
  return {
    captureIntervalSec,
    width,
    height,
    filenamePrefix: output.filenamePrefix,
    filenameSuffix,
    disableManifest: output.disableManifest,
    storage,
  };
}

/** Counts, per-output rules, and what the outputs imply for audio and video. */
export function checkOutputs(requested: RequestedOutputs, ctx: OutputContext): CheckedOutputs {
  const fileRequest = single(requested.files, 'multiple file outputs');
  const streamRequest = single(requested.streams, 'multiple stream outputs');
  const segmentsRequest = single(requested.segments, 'multiple segmented file outputs');

  if (requested.images.length > ctx.limits.max_image_outputs) throw invalidField('image outputs', `at most ${ctx.limits.max_image_outputs}`);
  if (streamRequest && streamRequest.urls.length > ctx.limits.max_stream_urls) throw invalidField('stream urls', `at most ${ctx.limits.max_stream_urls}`);

  const file = fileRequest && checkFile(fileRequest, ctx.vars);
  const stream = streamRequest && checkStream(streamRequest, ctx.allowWebsocket);
  const segments = segmentsRequest && checkSegments(segmentsRequest, ctx);
  // An empty stream output only makes sense next to others (URLs come later through UpdateStream).
  if (stream && stream.targets.length === 0 && !file && !segments && requested.images.length === 0) throw invalidField('stream url');

  // WebSocket carries raw audio only.
  const video = ctx.video && !(stream?.protocol === 'websocket' && ctx.audio);
  if (requested.images.length > 0 && !video) throw invalidField('audio_only images');
  const images = requested.images.map((image) => checkImages(image, ctx));

  if (!file && !segments && !stream && images.length === 0) throw invalidField('output');
  // Images alone: nothing would carry the audio.
  const audio = ctx.audio && Boolean(file || segments || stream);
  return { ...(file ? { file } : {}), ...(stream ? { stream } : {}), ...(segments ? { segments } : {}), images, audio, video };
}
