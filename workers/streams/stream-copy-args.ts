/**
 * The command line of a stream's `ffmpeg -c copy`: the MPEG-TS of the encode in on stdin, the stream out
 * to an address checked a moment ago (pinned-destination.ts), with options we built from the URL's parts.
 *
 * What stays in argv, because ffmpeg 5.1 takes it nowhere else (no option file, no other channel for
 * libsrt's options): SRT's stream id and passphrase, and the address. RTMP(S) keeps nothing there.
 */
import { parseSrtQuery, ffmpegSrtArgs } from '../../shared/srt-options.ts';
import { formatStreamUrl } from '../../shared/stream-destination.ts';
import type { PinnedDestination } from './pinned-destination.ts';

/**
 * How much of its input (µs of stream time) the copy's ffmpeg analyses before it connects. Its input
 * starts at a keyframe with the codec headers, so little is needed; 1 s leaves room for the audio.
 */
const ANALYZE_DURATION_US = 1_000_000;

/** Reads the TS on stdin (it starts at a keyframe: TsJoinPoint); `progress`: reports on stdout. */
export function copyInputArgs(progress: boolean): string[] {
  // ffmpeg's mpegts demuxer waits out the whole analysis window whatever it finds.
  return [
    '-hide_banner',
    '-nostats',
    '-loglevel',
    'error',
    ...(progress ? ['-progress', 'pipe:1'] : []),
    '-f',
    'mpegts',
    '-analyzeduration',
    String(ANALYZE_DURATION_US),
    '-i',
    'pipe:0',
  ];
}

/** FLV carries one video and one audio stream, and nothing else the encode might add. */
export const COPY_ARGS = ['-map', '0:v:0?', '-map', '0:a:0?', '-c', 'copy'];

/** SRT to the pinned address, caller mode, with only the options validation let through. */
export function srtCopyArgs(pinned: PinnedDestination): string[] {
  const { destination, address } = pinned;
  const options = ffmpegSrtArgs(parseSrtQuery(destination.query));
  return [...copyInputArgs(true), ...COPY_ARGS, '-f', 'mpegts', ...options, formatStreamUrl({ ...destination, path: '', query: '' }, address)];
}

/**
 * RTMP(S): ffmpeg only remuxes to FLV on its stdout, and our publisher (rtmp/publisher.ts) takes it to the
 * server, so neither the server's address nor the stream key is on ffmpeg's command line.
 */
export function flvPipeArgs(): string[] {
  // no_duration_filesize: a live stream has no end to patch the header with.
  return [...copyInputArgs(false), ...COPY_ARGS, '-f', 'flv', '-flvflags', 'no_duration_filesize', 'pipe:1'];
}
