/**
 * The command line of a capture: one ffmpeg grabbing the display and the sink once, encoding H.264 and
 * the audio once, and fanning that one encode out to every output of the plan through the tee muxer
 * (crash-safe file, MPEG-TS segments, MPEG-TS on a pipe for the stream outputs). Images are JPEGs from
 * a `split` branch of the grabbed frames, each image output its own small mjpeg encode.
 *
 * Why tee: ffmpeg (5.1) cannot share an encoder between output files, so a second `-map`ped output
 * would be a second x264 encode (measured: 0.22 → 0.42 cores at 720p30 for file + segments), while
 * the tee muxer hands the same packets to every slave for next to nothing.
 */
import { join } from 'node:path';
import type { AudioCodecName, EgressPlan, EncodingPlan, FileType, ImageOutputPlan } from '../../shared/egress-plan.ts';
import { EgressError } from '../../shared/errors.ts';
import type { AudioSink } from '../web/pulse.ts';
import type { RecordingOutputs } from '../recording/recorder-contract.ts';

export type FileContainer = Extract<FileType, 'mp4' | 'ogg' | 'mp3'>;
export type AudioEncoding = Extract<AudioCodecName, 'aac' | 'opus' | 'mp3'>;

/** 10 ms of the sink's 48 kHz stereo s16: small reads keep PulseAudio's timestamps close to real time. */
const PULSE_FRAGMENT_BYTES = 1920;
/** Keyframe interval when the plan leaves it to the encoder and has no segments. */
const DEFAULT_KEYFRAME_INTERVAL_SEC = 2;
/** The rate-control buffer, as LiveKit's x264 vbv-buf-capacity: 2 s, or the segment duration up to 10 s. */
const DEFAULT_VBV_SEC = 2;
const MAX_SEGMENT_VBV_SEC = 10;
/** mjpeg quantizer (2 best … 31 worst): about JPEG quality 85, what LiveKit's jpegenc writes. */
const JPEG_QSCALE = 3;
/** The child's file descriptor the MPEG-TS stream is written to (stdout carries -progress). */
export const STREAM_FD = 3;

/**
 * How each file type is written while recording: streamable, so a crash leaves a readable file, and flushed
 * packet by packet (without flush_packets a quiet recording sat in ffmpeg's 32 KiB write buffer for many
 * seconds: a killed worker left an MP4 of 28 bytes after 6 s).
 */
const CAPTURE_MUXER: Record<FileContainer, { format: string; options: [string, string][] }> = {
  mp4: {
    format: 'mp4',
    options: [
      ['movflags', '+empty_moov+default_base_moof'],
      ['frag_duration', '1000000'],
      ['flush_packets', '1'],
    ],
  },
  ogg: { format: 'ogg', options: [['flush_packets', '1']] },
  mp3: { format: 'mp3', options: [['flush_packets', '1']] },
};

const SEGMENT_PATTERN = 'segment_%05d.ts';
const IMAGE_PATTERN = 'image_%05d.jpeg';
const numbered = (pattern: string, index: number) => pattern.replace('%05d', String(index).padStart(5, '0'));
/** Name of segment `index` (from 0) in the segments directory. */
export const segmentFileName = (index: number): string => numbered(SEGMENT_PATTERN, index);
/** Name of image `index` (from 0) in an image output's directory. */
export const imageFileName = (index: number): string => numbered(IMAGE_PATTERN, index);

/** What a capture writes where: the plan's outputs, resolved and checked against what can be recorded. */
export interface CaptureLayout {
  /** Recorded crash-safe at capturePath, remuxed into filePath at the end. */
  file?: { container: FileContainer; capturePath: string; filePath: string };
  /**
   * MPEG-TS segments in `dir`; ffmpeg lists each closed one in the CSV file at listPath. The first is numbered
   * `startNumber` (0, or after a takeover the number the recording's next segment gets).
   */
  segments?: { dir: string; listPath: string; durationSec: number; startNumber: number };
  /** One directory per plan.images entry; its first image is numbered `startNumber` (after a takeover, where the last part stopped). */
  images: { dir: string; output: ImageOutputPlan; startNumber: number }[];
  /** The encode as MPEG-TS on STREAM_FD. */
  stream: boolean;
  /** The one audio encode every output carries; absent without audio. */
  audioCodec?: AudioEncoding;
}

export interface LayoutRequest {
  plan: EgressPlan;
  workDir: string;
  video: boolean;
  audio: boolean;
  /** Where the outputs go; a stream output without `outputs.stream` (nobody takes it) gets no pipe. */
  outputs: RecordingOutputs;
}

export function captureLayout(request: LayoutRequest): CaptureLayout {
  const { plan } = request;
  const file = plan.file && fileOf(request);
  let segments: CaptureLayout['segments'];
  const { outputs } = request;
  if (plan.segments) {
    if (!outputs.segments) throw new EgressError('EGR_ERR_INTERNAL', 'the plan has segments but the recorder got no directory for them');
    segments = {
      dir: outputs.segments.dir,
      listPath: join(request.workDir, 'segments.csv'),
      durationSec: plan.segments.segmentDurationSec,
      startNumber: outputs.segments.startNumber ?? 0,
    };
  }
  if (plan.images.length > 0 && !request.video) throw new EgressError('EGR_ERR_INVALID_ARGUMENT', 'image outputs need video');
  const imagesDirs = outputs.images?.dirs ?? [];
  if (plan.images.length !== imagesDirs.length) {
    throw new EgressError(
      'EGR_ERR_INTERNAL',
      `the plan has ${plan.images.length} image outputs but the recorder got ${imagesDirs.length} directories`,
    );
  }
  const images = plan.images.map((output, i) => ({
    dir: imagesDirs[i]!,
    output,
    startNumber: outputs.images?.startNumbers?.[i] ?? 0,
  }));
  if (plan.stream?.protocol === 'websocket') throw new EgressError('EGR_ERR_NOT_SUPPORTED', 'web recordings stream over RTMP or SRT, not WebSocket');
  const stream = Boolean(plan.stream) && outputs.stream !== undefined;
  if (!file && !segments && images.length === 0 && !stream) throw new EgressError('EGR_ERR_INVALID_ARGUMENT', 'the plan has no output to record');

  let audioCodec: AudioEncoding | undefined;
  if (request.audio) {
    audioCodec = file ? audioCodecOf(file.container, plan.encoding.audioCodec) : 'aac';
    // One audio encode feeds every output, and MPEG-TS (segments, RTMP, SRT) carries AAC.
    if ((segments || stream) && audioCodec !== 'aac') {
      throw new EgressError(
        'EGR_ERR_INVALID_ARGUMENT',
        `segments and streams carry AAC, which a ${file?.container} file with ${audioCodec} cannot share`,
      );
    }
  }
  return { ...(file ? { file } : {}), ...(segments ? { segments } : {}), images, stream, ...(audioCodec ? { audioCodec } : {}) };
}

function fileOf({ plan, workDir, outputs, video }: LayoutRequest): CaptureLayout['file'] {
  const filePath = outputs.file?.path;
  const fileType = plan.file?.fileType;
  if (fileType !== 'mp4' && fileType !== 'ogg' && fileType !== 'mp3') {
    throw new EgressError('EGR_ERR_NOT_SUPPORTED', `web recordings write mp4, ogg or mp3 files, not ${fileType ?? 'no file'}`);
  }
  if (fileType !== 'mp4' && video) throw new EgressError('EGR_ERR_INVALID_ARGUMENT', `a ${fileType} file cannot hold video`);
  if (!filePath) throw new EgressError('EGR_ERR_INTERNAL', 'the plan has a file output but the recorder got no path for it');
  return { container: fileType, capturePath: join(workDir, `capture.${fileType}`), filePath };
}

/** An MP4 holds AAC or Opus; OGG only Opus; an MP3 file only MP3. */
function audioCodecOf(container: FileContainer, requested: AudioCodecName): AudioEncoding {
  if (container === 'ogg') return 'opus';
  if (container === 'mp3') return 'mp3';
  return requested === 'opus' ? 'opus' : 'aac';
}

/** One input of the capture: the ffmpeg options that open it, and what it is, for messages. */
export interface CaptureInput {
  /** ffmpeg's name of the input format, as in its `Input #N, <format>, from …` line. */
  format: 'pulse' | 'x11grab' | 's16le' | 'rawvideo';
  kind: 'audio' | 'video';
  /** `-f … -i …`, without the queue size. */
  args: string[];
  /** The input's queue between its reading thread and the encoders (packets). */
  queueSize: number;
  /** What is missing when this input delivers nothing, e.g. "no frames from the X display :3". */
  missing: string;
  /** The child's file descriptor the input is read from (a pipe the recorder writes); absent for a device. */
  fd?: number;
}

/**
 * The capture's inputs in the order ffmpeg opens them. Audio is opened first: ffmpeg aligns each
 * input's first timestamp to zero, and opening the display second measured closest to real A/V sync
 * (within 20 ms).
 */
export function captureInputs(audio: AudioSink | undefined, display: string | undefined, encoding: EncodingPlan): CaptureInput[] {
  const inputs: CaptureInput[] = [];
  if (audio) {
    inputs.push({
      format: 'pulse',
      kind: 'audio',
      args: ['-f', 'pulse', '-server', audio.server, '-fragment_size', String(PULSE_FRAGMENT_BYTES), '-i', audio.monitor],
      queueSize: 1024,
      missing: `no audio from PulseAudio (source ${audio.monitor} on ${audio.server})`,
    });
  }
  if (display) {
    inputs.push({
      format: 'x11grab',
      kind: 'video',
      args: [
        '-f',
        'x11grab',
        '-draw_mouse',
        '0',
        '-framerate',
        String(encoding.framerate),
        '-video_size',
        `${encoding.width}x${encoding.height}`,
        '-i',
        display,
      ],
      queueSize: 512,
      missing: `no frames from the X display ${display}`,
    });
  }
  return inputs;
}

/** The child's descriptors raw media is written to (0–2 are stdio, STREAM_FD the MPEG-TS stream). */
export const RAW_AUDIO_FD = 4;
export const RAW_VIDEO_FD = 5;
/** Raw audio as the recorder writes it: interleaved signed 16-bit little-endian stereo at 48 kHz. */
export const RAW_AUDIO_RATE = 48_000;
export const RAW_AUDIO_CHANNELS = 2;

/**
 * Inputs read from pipes the recorder writes on a wall clock: I420 frames of exactly the plan's size at
 * its frame rate, and s16le 48 kHz stereo. Timestamps come from the frame and sample counts, so what the
 * recorder writes at the same moment plays at the same moment. Audio first, as for the web capture.
 */
export function rawInputs(media: { audio: boolean; video: boolean }, encoding: EncodingPlan): CaptureInput[] {
  const inputs: CaptureInput[] = [];
  if (media.audio) {
    inputs.push({
      format: 's16le',
      kind: 'audio',
      args: ['-f', 's16le', '-ar', String(RAW_AUDIO_RATE), '-ac', String(RAW_AUDIO_CHANNELS), '-i', `pipe:${RAW_AUDIO_FD}`],
      queueSize: 1024,
      fd: RAW_AUDIO_FD,
      missing: 'no audio written to the capture',
    });
  }
  if (media.video) {
    inputs.push({
      format: 'rawvideo',
      kind: 'video',
      args: [
        '-f',
        'rawvideo',
        '-pix_fmt',
        'yuv420p',
        '-video_size',
        `${encoding.width}x${encoding.height}`,
        '-framerate',
        String(encoding.framerate),
        '-i',
        `pipe:${RAW_VIDEO_FD}`,
      ],
      // Frames are big (W×H×1.5 bytes): a short queue, the rest waits in the pipe and the writer.
      queueSize: 64,
      fd: RAW_VIDEO_FD,
      missing: 'no frames written to the capture',
    });
  }
  return inputs;
}

/** The whole ffmpeg command line (without the program): inputs, the encodes, every output. */
export function captureArgs(plan: EgressPlan, inputs: CaptureInput[], layout: CaptureLayout): string[] {
  const audioIn = inputs.findIndex((input) => input.kind === 'audio');
  const videoIn = inputs.findIndex((input) => input.kind === 'video');
  // Images alone (LiveKit allows it) need no H.264 encode and no audio.
  const encoded = Boolean(layout.file || layout.segments || layout.stream);
  const hasVideo = videoIn >= 0;
  const hasAudio = audioIn >= 0 && encoded && layout.audioCodec !== undefined;
  const images = hasVideo ? layout.images : [];
  const graph =
    images.length > 0
      ? [
          '-filter_complex',
          imageGraph(
            `${videoIn}:v`,
            images.map((image) => image.output),
            encoded,
          ),
        ]
      : [];
  // Streams in the usual order, video first.
  const video = hasVideo && encoded ? ['-map', images.length > 0 ? '[v]' : `${videoIn}:v`, ...videoEncodeArgs(plan)] : [];
  // Audio timestamps from the sample count: PulseAudio's wall-clock stamps jitter under load, which
  // would leave gaps and overlaps in the track.
  const audio = hasAudio ? ['-map', `${audioIn}:a`, '-af', 'asetpts=N/SR/TB', ...audioEncoder(layout.audioCodec!, plan.encoding)] : [];
  return [
    '-hide_banner',
    '-nostats',
    '-progress',
    'pipe:1',
    '-y',
    ...inputs.flatMap((input) => ['-thread_queue_size', String(input.queueSize), ...input.args]),
    ...graph,
    ...(encoded ? [...video, ...audio, ...mainMuxing(layout)] : []),
    ...images.flatMap((image, i) => imageOutput(i, image.dir, image.startNumber)),
  ];
}

/**
 * Where the H.264/audio encode goes. A file alone is written as ever, straight by its muxer; anything
 * more goes through the tee muxer, one slave per output kind (TEE_SLAVES): the file slave aborts the capture
 * if it fails (the file is what the egress delivers), the segment and stream slaves are dropped on failure
 * and the rest goes on.
 */
function mainMuxing(layout: CaptureLayout): string[] {
  const { file, segments, stream } = layout;
  if (file && !segments && !stream) {
    const muxer = CAPTURE_MUXER[file.container];
    return ['-f', muxer.format, ...muxer.options.flatMap(([key, value]) => [`-${key}`, value]), file.capturePath];
  }
  const slaves = TEE_SLAVES.flatMap((slaveOf) => slaveOf(layout) ?? []);
  // The tee cannot tell its slaves' needs: MP4 wants the H.264/AAC headers out of band, and MPEG-TS gets
  // them back in band (the mpegts muxer repeats SPS/PPS before keyframes, ADTS headers on AAC).
  return ['-flags', '+global_header', '-f', 'tee', slaves.join('|')];
}

/** The file, recorded crash-safe. */
function fileSlave({ file }: CaptureLayout): string | undefined {
  if (!file) return undefined;
  const muxer = CAPTURE_MUXER[file.container];
  return teeSlave([['f', muxer.format], ...muxer.options], file.capturePath);
}

/** MPEG-TS segments; ffmpeg appends (and flushes) a line to the list as each segment closes: the watcher's cue. */
function segmentsSlave({ segments }: CaptureLayout): string | undefined {
  if (!segments) return undefined;
  return teeSlave(
    [
      ['f', 'segment'],
      ['segment_format', 'mpegts'],
      ['segment_time', String(segments.durationSec)],
      ['segment_start_number', String(segments.startNumber)],
      ['segment_list', segments.listPath],
      ['segment_list_type', 'csv'],
      ['onfail', 'ignore'],
    ],
    join(patternSafe(segments.dir), SEGMENT_PATTERN),
  );
}

/** The stream's MPEG-TS, flushed packet by packet: a live stream must not wait for a 32 KiB I/O buffer to fill. */
function streamSlave({ stream }: CaptureLayout): string | undefined {
  return stream
    ? teeSlave(
        [
          ['f', 'mpegts'],
          ['flush_packets', '1'],
          ['onfail', 'ignore'],
        ],
        `pipe:${STREAM_FD}`,
      )
    : undefined;
}

/** The encoded outputs' parts of the tee, in this order. (Images are branches of their own: imageOutput.) */
const TEE_SLAVES: readonly ((layout: CaptureLayout) => string | undefined)[] = [fileSlave, segmentsSlave, streamSlave];

/**
 * The filter graph when there are images: the grabbed frames split into the H.264 encode (`[v]`, unless
 * images are all there is) and one branch per image output, `[img<i>]`, a frame every interval scaled to the output's size.
 *
 * Two details keep ffmpeg 5.1 from stalling on these sparse branches (it always feeds the output stream
 * furthest behind, and reads only the inputs that stream needs, so a branch whose last timestamp lags
 * would starve the audio for a whole interval, and with it every other output):
 * - `round=up` emits the frame for time n×interval as soon as the next frame arrives, and `setpts=PTS+1`
 *   stamps it one interval later, so the branch is never behind until its next frame is due;
 * - each mjpeg encode runs single-threaded (imageOutput), as frame threads would hold a frame back.
 */
function imageGraph(videoInput: string, images: ImageOutputPlan[], encoded: boolean): string {
  const branches = images.map((_, i) => `[i${i}]`).join('');
  const split = `[${videoInput}]split=${images.length + (encoded ? 1 : 0)}${encoded ? '[v]' : ''}${branches}`;
  const chains = images.map((image, i) => {
    const ms = Math.max(1, Math.round(image.captureIntervalSec * 1000));
    return `[i${i}]fps=fps=1000/${ms}:round=up,scale=${image.width}:${image.height},format=yuvj420p,setpts=PTS+1[img${i}]`;
  });
  return [split, ...chains].join(';');
}

/**
 * One image output: its own output file (a lone sparse stream, so no interleaving waits on it), written
 * by image2 with atomic renames (a file that exists is complete), numbered from `startNumber`. It goes through a tee
 * beside a null slave so that a failing image output is dropped instead of ending the capture.
 */
function imageOutput(index: number, dir: string, startNumber: number): string[] {
  const pattern = join(patternSafe(dir), IMAGE_PATTERN);
  const slave = teeSlave(
    [
      ['f', 'image2'],
      ['start_number', String(startNumber)],
      ['atomic_writing', '1'],
      ['onfail', 'ignore'],
    ],
    pattern,
  );
  return [
    '-map',
    `[img${index}]`,
    '-c:v',
    'mjpeg',
    '-q:v',
    String(JPEG_QSCALE),
    '-threads',
    '1',
    '-fps_mode',
    'passthrough',
    '-f',
    'tee',
    `${slave}|${teeSlave([['f', 'null']], '-')}`,
  ];
}

/** The H.264 encoder options for a plan (also the baseline of bench/web-capture-cost.ts). */
export function videoEncodeArgs({ encoding, segments, stream }: EgressPlan): string[] {
  const kbps = encoding.videoBitrateKbps;
  const segmentSec = segments?.segmentDurationSec;
  const keyframeSec = encoding.keyFrameIntervalSec > 0 ? encoding.keyFrameIntervalSec : (segmentSec ?? DEFAULT_KEYFRAME_INTERVAL_SEC);
  // A stream wants a steady rate more than a segment-sized buffer.
  const vbvSec = segmentSec && !stream ? Math.min(segmentSec, MAX_SEGMENT_VBV_SEC) : DEFAULT_VBV_SEC;
  const live = segments !== undefined || stream !== undefined;
  return [
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-profile:v',
    encoding.videoProfile,
    '-pix_fmt',
    'yuv420p',
    // No lookahead or B-frames: ffmpeg feeds its encoders in timestamp order, so behind an encoder that
    // holds frames back, audio waits in the input queue, and `q` would drop those last ~0.5 s of sound.
    '-tune',
    'zerolatency',
    '-b:v',
    `${kbps}k`,
    '-maxrate',
    `${kbps}k`,
    '-bufsize',
    `${kbps * vbvSec}k`,
    '-g',
    String(Math.max(1, Math.round(keyframeSec * encoding.framerate))),
    // Segments and streams get keyframes on the clock only (LiveKit: scenecut=0), never in between.
    ...(live ? ['-sc_threshold', '0'] : []),
    // A keyframe at every segment boundary, so that each segment starts with one and lasts its duration.
    ...(segmentSec ? ['-force_key_frames', `expr:gte(t,n_forced*${segmentSec})`] : []),
    // Constant frame rate: ffmpeg duplicates or drops frames when the grab drifts (counted in the stats).
    '-fps_mode',
    'cfr',
    '-r',
    String(encoding.framerate),
  ];
}

function audioEncoder(codec: AudioEncoding, encoding: EncodingPlan): string[] {
  const bitrate = ['-b:a', `${encoding.audioBitrateKbps}k`, '-ac', '2'];
  switch (codec) {
    case 'opus':
      return ['-c:a', 'libopus', ...bitrate, '-ar', '48000'];
    case 'mp3':
      // libmp3lame is constant bitrate when given -b:a.
      return ['-c:a', 'libmp3lame', ...bitrate, '-ar', String(encoding.audioFrequency)];
    case 'aac':
      return ['-c:a', 'aac', ...bitrate, '-ar', String(encoding.audioFrequency)];
  }
}

/**
 * One tee slave, `[key=value:…]target`, escaped for both levels the tee muxer parses: the slave list
 * (`|`-separated, backslash and quote escapes) and then the options (`:`/`=`-separated, same escapes).
 * The target cannot hold `]` (the tee takes the last one as the end of the options).
 */
export function teeSlave(options: [string, string][], target: string): string {
  if (target.includes(']')) throw new EgressError('EGR_ERR_INTERNAL', `an output path cannot contain "]": ${target}`);
  const escapeOption = (value: string) => value.replace(/[\\':=]/g, '\\$&');
  const spec = `[${options.map(([key, value]) => `${key}=${escapeOption(value)}`).join(':')}]${target}`;
  return spec.replace(/[\\'|]/g, '\\$&');
}

/** A directory as part of an image2/segment filename pattern, where `%` is special. */
function patternSafe(dir: string): string {
  return dir.replaceAll('%', '%%');
}
