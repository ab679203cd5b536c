/**
 * What tests need to know about a recorded file: its streams and format (ffprobe), the pixels of one
 * decoded frame, and how loud its audio is. Field names are ffprobe's, numbers parsed.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

export interface ProbedStream {
  index: number;
  codec_type: 'video' | 'audio' | 'subtitle' | 'data' | 'attachment';
  codec_name: string;
  /** Video only. */
  width?: number;
  height?: number;
  /** Frames per second ("30/1" → 30); video only. */
  avg_frame_rate?: number;
  /** Seconds, when the container says. */
  duration?: number;
  /** Hz; audio only. */
  sample_rate?: number;
  channels?: number;
  /** Frames (video) or packets (audio), when the container says or `countFrames` was asked. */
  nb_frames?: number;
}

export interface ProbedFormat {
  /** e.g. "mov,mp4,m4a,3gp,3g2,mj2", "ogg". */
  format_name: string;
  /** Seconds. */
  duration: number;
  /** Bytes. */
  size: number;
}

export interface Probe {
  format: ProbedFormat;
  streams: ProbedStream[];
}

/** ffprobe's view of a media file. `countFrames` decodes the file to count frames exactly (slower). */
export async function probe(path: string, options: { countFrames?: boolean } = {}): Promise<Probe> {
  const count = options.countFrames ? ['-count_frames'] : [];
  const { stdout } = await run('ffprobe', ['-v', 'error', ...count, '-show_format', '-show_streams', '-print_format', 'json', path], {
    maxBuffer: MAX_OUTPUT_BYTES,
  });
  const raw = JSON.parse(stdout) as { format: Record<string, string>; streams: Record<string, string | number>[] };
  return {
    format: { format_name: raw.format['format_name'] ?? '', duration: Number(raw.format['duration']), size: Number(raw.format['size']) },
    streams: raw.streams.map((stream) => ({
      index: Number(stream['index']),
      codec_type: stream['codec_type'] as ProbedStream['codec_type'],
      codec_name: String(stream['codec_name']),
      width: optionalNumber(stream['width']),
      height: optionalNumber(stream['height']),
      avg_frame_rate: stream['codec_type'] === 'video' ? fraction(String(stream['avg_frame_rate'])) : undefined,
      duration: optionalNumber(stream['duration']),
      sample_rate: optionalNumber(stream['sample_rate']),
      channels: optionalNumber(stream['channels']),
      nb_frames: optionalNumber(stream['nb_read_frames'] ?? stream['nb_frames']),
    })),
  };
}

export interface DecodedFrame {
  width: number;
  height: number;
  /** Packed RGB, 3 bytes a pixel, row by row. */
  rgb: Buffer;
  pixel(x: number, y: number): { r: number; g: number; b: number };
}

/** The video frame shown at `seconds`, decoded to RGB. */
export async function decodeFrameAt(path: string, seconds: number): Promise<DecodedFrame> {
  const video = (await probe(path)).streams.find((stream) => stream.codec_type === 'video');
  if (!video?.width || !video.height) throw new Error(`${path} has no video stream`);
  const { width, height } = video;
  const { stdout: rgb } = await run(
    'ffmpeg',
    // No seek for the first frame: an image (a JPEG thumbnail) has nothing at `-ss 0` for ffmpeg.
    ['-v', 'error', ...(seconds > 0 ? ['-ss', String(seconds)] : []), '-i', path, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
    { encoding: 'buffer', maxBuffer: MAX_OUTPUT_BYTES },
  );
  if (rgb.length !== width * height * 3) throw new Error(`no frame at ${seconds} s in ${path}`);
  return {
    width,
    height,
    rgb,
    pixel: (x, y) => {
      const at = (y * width + x) * 3;
      return { r: rgb[at]!, g: rgb[at + 1]!, b: rgb[at + 2]! };
    },
  };
}

/** Mean volume of the audio in dB (0 = full scale; digital silence reads about -91). */
export async function meanVolumeDb(path: string): Promise<number> {
  // volumedetect reports on stderr.
  const { stderr } = await run('ffmpeg', ['-hide_banner', '-nostats', '-i', path, '-map', '0:a:0', '-af', 'volumedetect', '-f', 'null', '-'], {
    maxBuffer: MAX_OUTPUT_BYTES,
  });
  const mean = /mean_volume: (-?[\d.]+|-inf) dB/.exec(stderr)?.[1];
  if (mean === undefined) throw new Error(`no audio volume measured in ${path}`);
  return mean === '-inf' ? -Infinity : Number(mean);
}

function optionalNumber(value: string | number | undefined): number | undefined {
  return value === undefined || value === 'N/A' ? undefined : Number(value);
}

/** "30000/1001" → 29.97; "0/0" → 0. */
function fraction(value: string): number {
  const [numerator = 0, denominator = 1] = value.split('/').map(Number);
  return denominator === 0 ? 0 : numerator / denominator;
}
