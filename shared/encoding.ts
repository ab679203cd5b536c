/**
 * Encoding: LiveKit's presets and defaults, the advanced-options checks, and which codecs each output
 * container takes (egress `pkg/config/encoding.go`, `pkg/types/types.go`, `pkg/config/pipeline.go`).
 * One audio and one video encoder feed every output of an egress, so a codec must suit them all.
 */
import { AudioCodec, EncodedFileType, EncodingOptionsPreset, VideoCodec, type EncodingOptions } from '@livekit/protocol';
import type { AudioCodecName, EncodingPlan, FileType, VideoProfile } from './egress-plan.ts';
import { EgressError, invalidField } from './errors.ts';
import { MIN_SIDE, SCREEN_DEPTHS, sizeProblem, type Limits } from './limits.ts';

/** The service's starting point: LiveKit starts from 720p30 values, not the proto comments' 1080p/4500. */
export const DEFAULT_ENCODING: Readonly<EncodingPlan> = Object.freeze({
  width: 1280,
  height: 720,
  depth: 24,
  framerate: 30,
  videoProfile: 'main',
  videoBitrateKbps: 3000,
  audioCodec: 'aac',
  audioBitrateKbps: 128,
  audioFrequency: 44100,
  keyFrameIntervalSec: 0,
});

type PresetValues = Pick<EncodingPlan, 'width' | 'height' | 'framerate' | 'videoBitrateKbps'>;

const preset = (width: number, height: number, framerate: number, videoBitrateKbps: number): PresetValues => ({
  width,
  height,
  framerate,
  videoBitrateKbps,
});

/** Presets change only size, frame rate and video bitrate; audio keeps its defaults. PASSTHROUGH is no size. */
export const PRESETS: ReadonlyMap<EncodingOptionsPreset, PresetValues> = new Map([
  [EncodingOptionsPreset.H264_720P_30, preset(1280, 720, 30, 3000)],
  [EncodingOptionsPreset.H264_720P_60, preset(1280, 720, 60, 4500)],
  [EncodingOptionsPreset.H264_1080P_30, preset(1920, 1080, 30, 4500)],
  [EncodingOptionsPreset.H264_1080P_60, preset(1920, 1080, 60, 6000)],
  [EncodingOptionsPreset.PORTRAIT_H264_720P_30, preset(720, 1280, 30, 3000)],
  [EncodingOptionsPreset.PORTRAIT_H264_720P_60, preset(720, 1280, 60, 4500)],
  [EncodingOptionsPreset.PORTRAIT_H264_1080P_30, preset(1080, 1920, 30, 4500)],
  [EncodingOptionsPreset.PORTRAIT_H264_1080P_60, preset(1080, 1920, 60, 6000)],
]);

/** The `options` / `encoding` oneof every transcoding request carries. */
export type EncodingOptionsChoice =
  { case: 'preset'; value: EncodingOptionsPreset } | { case: 'advanced'; value: EncodingOptions } | { case: undefined; value?: undefined };

export interface ResolvedEncoding {
  /** `audioCodec` here is provisional: `negotiateCodecs` picks the real one from the outputs. */
  encoding: EncodingPlan;
  /** advanced.audio_codec, when the request named one. */
  audioCodec?: AudioCodecName;
  /** advanced.video_codec named an H.264 profile (errors then name the codec, as LiveKit's do). */
  videoCodecRequested: boolean;
}

const AUDIO_CODEC_OF: ReadonlyMap<AudioCodec, AudioCodecName> = new Map([
  [AudioCodec.OPUS, 'opus'],
  [AudioCodec.AAC, 'aac'],
  [AudioCodec.AC_MP3, 'mp3'],
]);

/** VP8 (and any codec this enum grows) is absent: LiveKit only ever encodes H.264 and ignores the rest. */
const VIDEO_PROFILE_OF: ReadonlyMap<VideoCodec, VideoProfile> = new Map([
  [VideoCodec.H264_BASELINE, 'baseline'],
  [VideoCodec.H264_MAIN, 'main'],
  [VideoCodec.H264_HIGH, 'high'],
]);

/**
 * Sample rates ffmpeg's encoders take (`ffmpeg -h encoder=aac`, `encoder=libmp3lame`), from 8 kHz up;
 * AAC's 7350 is left out (no player expects it). Opus and raw PCM always run at 48 kHz.
 */
const MP3_FREQUENCIES: readonly number[] = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000];
const AAC_FREQUENCIES: ReadonlySet<number> = new Set([...MP3_FREQUENCIES, 64000, 88200, 96000]);
const MP3_FREQUENCY_SET: ReadonlySet<number> = new Set(MP3_FREQUENCIES);

const POSITIVE = 'must be a positive number';

const sizeIsValid = (v: number): boolean => v >= MIN_SIDE && v % 2 === 0;

/**
 * The advanced fields a request may set: non-zero overrides the default. LiveKit ignores a negative
 * number; we refuse it, since ffmpeg would. How large each may be is `limits`' business (encodingProblem).
 */
const ADVANCED_NUMBERS: ReadonlyArray<{
  field: string;
  get: (o: EncodingOptions) => number;
  key: 'width' | 'height' | 'depth' | 'framerate' | 'videoBitrateKbps' | 'audioBitrateKbps' | 'audioFrequency' | 'keyFrameIntervalSec';
  valid: (v: number) => boolean;
  detail?: string;
}> = [
  { field: 'width', get: (o) => o.width, key: 'width', valid: sizeIsValid, detail: `must be even and at least ${MIN_SIDE}` },
  { field: 'height', get: (o) => o.height, key: 'height', valid: sizeIsValid, detail: `must be even and at least ${MIN_SIDE}` },
  { field: 'depth', get: (o) => o.depth, key: 'depth', valid: (v) => SCREEN_DEPTHS.has(v), detail: 'must be 8, 16 or 24' },
  { field: 'framerate', get: (o) => o.framerate, key: 'framerate', valid: (v) => v > 0, detail: POSITIVE },
  { field: 'video_bitrate', get: (o) => o.videoBitrate, key: 'videoBitrateKbps', valid: (v) => v > 0, detail: POSITIVE },
  { field: 'audio_bitrate', get: (o) => o.audioBitrate, key: 'audioBitrateKbps', valid: (v) => v > 0, detail: POSITIVE },
  {
    field: 'audio_frequency',
    get: (o) => o.audioFrequency,
    key: 'audioFrequency',
    valid: (v) => AAC_FREQUENCIES.has(v),
    detail: `must be one of ${[...AAC_FREQUENCIES].join(', ')}`,
  },
  // A double: NaN and Infinity arrive as JSON strings.
  {
    field: 'key_frame_interval',
    get: (o) => o.keyFrameInterval,
    key: 'keyFrameIntervalSec',
    valid: (v) => v > 0 && Number.isFinite(v),
    detail: POSITIVE,
  },
];

/**
 * The first number of `encoding` beyond `limits`, by its advanced field name. Defaults are checked too: an
 * operator may set limits below LiveKit's 720p30.
 */
function encodingProblem(encoding: EncodingPlan, limits: Limits): { field: string; detail: string } | undefined {
  const size = sizeProblem(limits, encoding.width, encoding.height, true);
  if (size) return { field: size.side, detail: size.detail };
  const atMost = (field: string, value: number, max: number, unit: string) =>
    value > max ? { field, detail: `must be at most ${max}${unit}` } : undefined;
  return (
    atMost('framerate', encoding.framerate, limits.max_framerate, '') ??
    atMost('video_bitrate', encoding.videoBitrateKbps, limits.max_video_bitrate, ' kbps') ??
    atMost('audio_bitrate', encoding.audioBitrateKbps, limits.max_audio_bitrate, ' kbps') ??
    atMost('key_frame_interval', encoding.keyFrameIntervalSec, limits.max_key_frame_interval, ' s')
  );
}

/** Preset or advanced options → encoding. PASSTHROUGH is refused (`preset`): only v2 media may remux. */
function encodingOf(options: EncodingOptionsChoice): ResolvedEncoding {
  const encoding: EncodingPlan = { ...DEFAULT_ENCODING };
  if (options.case === 'preset') {
    const values = PRESETS.get(options.value);
    if (!values)
      throw invalidField('preset', options.value === EncodingOptionsPreset.PASSTHROUGH ? 'PASSTHROUGH needs a v2 media source' : undefined);
    return { encoding: { ...encoding, ...values }, videoCodecRequested: false };
  }
  if (options.case !== 'advanced') return { encoding, videoCodecRequested: false };

  const advanced = options.value;
  for (const { field, get, key, valid, detail } of ADVANCED_NUMBERS) {
    const value = get(advanced);
    if (value === 0) continue;
    if (!valid(value)) throw invalidField(field, detail);
    encoding[key] = value;
  }
  const profile = VIDEO_PROFILE_OF.get(advanced.videoCodec);
  if (profile) encoding.videoProfile = profile;
  const audioCodec = AUDIO_CODEC_OF.get(advanced.audioCodec);
  return { encoding, videoCodecRequested: profile !== undefined, ...(audioCodec ? { audioCodec } : {}) };
}

/**
 * The encoding a request asks for, within `limits`. Beyond them, advanced options name their field; a
 * preset (or the default one, when the request names none) is refused as `preset`.
 */
export function resolveEncoding(options: EncodingOptionsChoice, limits: Limits): ResolvedEncoding {
  const resolved = encodingOf(options);
  const problem = encodingProblem(resolved.encoding, limits);
  if (problem) {
    if (options.case === 'advanced') throw invalidField(problem.field, problem.detail);
    throw invalidField('preset', `its ${problem.field} ${problem.detail}`);
  }
  return resolved;
}

// ---- containers and codecs ----

export type Container = FileType | 'hls' | 'rtmp' | 'srt' | 'websocket';
type VideoCodecName = 'h264';

interface ContainerSpec {
  /** LiveKit's output type name, used in its error messages. */
  name: string;
  audio: readonly AudioCodecName[];
  video: readonly VideoCodecName[];
  /** The codec LiveKit prefers for this output when several fit. */
  defaultAudio?: AudioCodecName;
  /** Stream outputs impose their codecs whatever the request asked (LiveKit's getStreamConfig). */
  forcesAudio?: AudioCodecName;
  forcesVideo?: VideoCodecName;
}

/**
 * LiveKit's table, narrowed where one shared encoder makes its entry a trap: LiveKit lists Opus and AAC
 * for an MP3 file, but its single audio encoder would then put AAC or Opus into an .mp3; we refuse.
 */
export const CONTAINERS: Readonly<Record<Container, ContainerSpec>> = {
  mp4: { name: 'video/mp4', audio: ['aac', 'opus'], video: ['h264'], defaultAudio: 'aac' },
  ogg: { name: 'audio/ogg', audio: ['opus'], video: [], defaultAudio: 'opus' },
  mp3: { name: 'audio/mpeg', audio: ['mp3'], video: [], defaultAudio: 'mp3' },
  webm: { name: 'video/webm', audio: ['opus'], video: [], defaultAudio: 'opus' },
  hls: { name: 'application/x-mpegurl', audio: ['aac'], video: ['h264'], defaultAudio: 'aac' },
  rtmp: { name: 'rtmp', audio: ['aac'], video: ['h264'], defaultAudio: 'aac', forcesAudio: 'aac', forcesVideo: 'h264' },
  srt: { name: 'srt', audio: ['aac'], video: ['h264'], defaultAudio: 'aac', forcesAudio: 'aac', forcesVideo: 'h264' },
  websocket: { name: 'audio/x-raw', audio: ['pcm'], video: [], defaultAudio: 'pcm', forcesAudio: 'pcm' },
};

const CODEC_NAME: Readonly<Record<AudioCodecName | VideoCodecName, string>> = {
  aac: 'audio/aac',
  opus: 'audio/opus',
  mp3: 'audio/mpeg',
  pcm: 'audio/x-raw',
  h264: 'video/h264',
};

/** Every audio codec the service encodes, in the order a free choice takes them. */
const ALL_AUDIO: readonly AudioCodecName[] = ['aac', 'opus', 'mp3', 'pcm'];

/** DEFAULT_FILETYPE candidates, first compatible wins: audio-only prefers OGG, anything with video is MP4. */
const DEFAULT_FILE_CANDIDATES = { audioOnly: ['ogg', 'mp4', 'mp3'], withVideo: ['mp4'] } as const satisfies Record<string, readonly FileType[]>;

const ENCODED_FILE_TYPE: ReadonlyMap<EncodedFileType, FileType | 'default'> = new Map([
  [EncodedFileType.DEFAULT_FILETYPE, 'default'],
  [EncodedFileType.MP4, 'mp4'],
  [EncodedFileType.OGG, 'ogg'],
  [EncodedFileType.MP3, 'mp3'],
]);

/** A request's file_type, or undefined for a value the enum does not know. */
export function fileTypeOf(value: EncodedFileType): FileType | 'default' | undefined {
  return ENCODED_FILE_TYPE.get(value);
}

export const FILE_EXTENSION: Readonly<Record<FileType, string>> = { mp4: '.mp4', ogg: '.ogg', mp3: '.mp3', webm: '.webm' };

/** MIME type of a finished file, for uploads. */
export const FILE_CONTENT_TYPE: Readonly<Record<FileType, string>> = { mp4: 'video/mp4', ogg: 'audio/ogg', mp3: 'audio/mpeg', webm: 'video/webm' };

/** The file type a path's extension names, if it is one. */
export function fileTypeOfPath(path: string): FileType | undefined {
  const dot = path.lastIndexOf('.');
  if (dot < 0 || dot < path.lastIndexOf('/')) return undefined;
  const ext = path.slice(dot).toLowerCase();
  return (Object.keys(FILE_EXTENSION) as FileType[]).find((type) => FILE_EXTENSION[type] === ext);
}

/** Track egress remuxes: the container follows the codec (LiveKit `TrackOutputTypes`). */
const TRACK_FILE_TYPE: ReadonlyMap<string, FileType> = new Map<string, FileType>([
  ['audio/opus', 'ogg'],
  ['audio/pcmu', 'ogg'],
  ['audio/pcma', 'ogg'],
  ['video/h264', 'mp4'],
  ['video/vp8', 'webm'],
  ['video/vp9', 'webm'],
]);

/** File type for a track's MIME type (case-insensitive), or undefined when it cannot be remuxed. A Map: the type is the publisher's. */
export function fileTypeOfTrackCodec(mimeType: string): FileType | undefined {
  return TRACK_FILE_TYPE.get(mimeType.toLowerCase());
}

export interface CodecRequest {
  audio: boolean;
  video: boolean;
  /** advanced.audio_codec, if named. */
  audioCodec?: AudioCodecName;
  videoCodecRequested: boolean;
  /** Encoded outputs in LiveKit's order (file, segments, stream); `default` is a DEFAULT_FILETYPE file. */
  outputs: readonly (Container | 'default')[];
}

export interface CodecChoice {
  audioCodec: AudioCodecName;
  /** What a DEFAULT_FILETYPE file became; absent when the request had none. */
  fileType?: FileType;
}

const invalidArgument = (message: string): EgressError => new EgressError('EGR_ERR_INVALID_ARGUMENT', message, { meta: { field: 'codec' } });

export const noCompatibleCodec = (): EgressError => invalidArgument('no supported codec is compatible with all outputs');
const incompatible = (container: Container, codec: AudioCodecName | VideoCodecName): EgressError =>
  invalidArgument(`format ${CONTAINERS[container].name} incompatible with codec ${CODEC_NAME[codec]}`);

/** Narrows `candidates` to what every fixed output takes; errors as LiveKit's do. */
function compatible<C extends AudioCodecName | VideoCodecName>(
  candidates: readonly C[],
  named: C | undefined,
  outputs: readonly Container[],
  accepts: (spec: ContainerSpec) => readonly C[],
): C[] {
  let left = named ? [named] : [...candidates];
  for (const output of outputs) {
    const taken = accepts(CONTAINERS[output]);
    left = left.filter((codec) => taken.includes(codec));
    if (left.length === 0) throw named ? incompatible(output, named) : noCompatibleCodec();
  }
  return left;
}

/**
 * Picks one audio codec for all outputs and resolves DEFAULT_FILETYPE, LiveKit's way: streams impose AAC
 * (RTMP/SRT) or PCM (WebSocket); the intersection of what every output takes must not be empty; a default
 * file becomes the first container that fits; the first output whose preferred codec fits decides.
 */
export function negotiateCodecs(request: CodecRequest): CodecChoice {
  const fixed = request.outputs.filter((o): o is Container => o !== 'default');
  const forced = fixed.map((o) => CONTAINERS[o].forcesAudio).find((c) => c !== undefined);
  const named = forced ?? request.audioCodec;
  const videoNamed = request.videoCodecRequested || fixed.some((o) => CONTAINERS[o].forcesVideo !== undefined);

  let audio = request.audio ? compatible(ALL_AUDIO, named, fixed, (s) => s.audio) : [];
  const video = request.video ? compatible<VideoCodecName>(['h264'], videoNamed ? 'h264' : undefined, fixed, (s) => s.video) : [];

  let fileType: FileType | undefined;
  if (request.outputs.includes('default')) {
    const candidates = request.video ? DEFAULT_FILE_CANDIDATES.withVideo : DEFAULT_FILE_CANDIDATES.audioOnly;
    fileType = candidates.find(
      (c) =>
        (!request.audio || CONTAINERS[c].audio.some((a) => audio.includes(a))) &&
        (!request.video || CONTAINERS[c].video.some((v) => video.includes(v))),
    );
    if (!fileType) throw invalidArgument('no supported file output type is compatible with the selected codecs');
    const chosen = CONTAINERS[fileType].audio;
    audio = audio.filter((a) => chosen.includes(a));
  }

  const resolved = request.outputs.map((o) => (o === 'default' ? fileType! : o));
  const preferred = resolved.map((o) => CONTAINERS[o].defaultAudio).find((c) => c !== undefined && audio.includes(c));
  const audioCodec = preferred ?? audio[0] ?? named ?? DEFAULT_ENCODING.audioCodec;
  return fileType ? { audioCodec, fileType } : { audioCodec };
}

/**
 * The sample rate the chosen encoder runs at: Opus and raw PCM at 48 kHz whatever audio_frequency says (as
 * LiveKit), AAC and MP3 at the requested one. MP3 stops at 48 kHz: above, `audio_frequency` is refused.
 */
export function audioFrequencyFor(codec: AudioCodecName, requested: number): number {
  if (codec === 'opus' || codec === 'pcm') return 48000;
  if (codec === 'mp3' && !MP3_FREQUENCY_SET.has(requested)) throw invalidField('audio_frequency', `MP3 takes one of ${MP3_FREQUENCIES.join(', ')}`);
  return requested;
}
