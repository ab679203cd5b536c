/**
 * The track capture is crash-safe: what ContainerWriter has been given is on disk as it records (nothing held
 * for the whole recording), and a copy of the file taken mid-recording, or cut at any byte as a killed worker
 * leaves it, decodes up to the cut; the salvage job's remux makes a normal file of it. A clean end is remuxed
 * (ffmpeg -c copy, the web recorder's remux) into a faststart MP4 / a WebM with its duration, still the
 * encoder's bitstream. The samples are a real H.264 (x264, one keyframe only, as a WebRTC publisher often
 * sends) and VP8 encode, and Opus packets.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { remux } from '../../../workers/capture/ffmpeg-capture.ts';
import { Supervisor } from '../../../workers/process/processes.ts';
import { describeKeyframe, type PassthroughCodec } from '../../../workers/track/codecs.ts';
import { CAPTURE_EXTENSION, ContainerWriter } from '../../../workers/track/container-writer.ts';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const FPS = 30;
const FRAMES = 150;

let dir: string;
before(async () => (dir = await mkdtemp(join(tmpdir(), 'track-capture-'))));
after(async () => rm(dir, { recursive: true, force: true }));

interface Frame {
  data: Uint8Array;
  keyframe: boolean;
}

/** 5 s of 640x360 H.264 Constrained Baseline from x264, Annex-B access units (split at each AUD), one keyframe. */
async function h264Frames(): Promise<Frame[]> {
  const path = join(dir, 'source.h264');
  await run('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=640x360:rate=${FPS}`,
    '-frames:v',
    String(FRAMES),
    '-c:v',
    'libx264',
    '-profile:v',
    'baseline',
    '-g',
    '1000',
    '-x264-params',
    'aud=1',
    '-bsf:v',
    'h264_mp4toannexb',
    '-f',
    'h264',
    path,
  ]);
  const bytes = await readFile(path);
  const starts: number[] = [];
  for (let i = 0; i + 4 < bytes.length; i++)
    if (bytes[i] === 0 && bytes[i + 1] === 0 && bytes[i + 2] === 0 && bytes[i + 3] === 1 && (bytes[i + 4]! & 0x1f) === 9) starts.push(i);
  return starts.map((start, i) => {
    const data = bytes.subarray(start, starts[i + 1] ?? bytes.length);
    let keyframe = false;
    for (let j = 0; j + 3 < data.length; j++)
      if (data[j] === 0 && data[j + 1] === 0 && data[j + 2] === 1 && (data[j + 3]! & 0x1f) === 5) keyframe = true;
    return { data, keyframe };
  });
}

/** 5 s of 640x360 VP8 from libvpx, frames from the IVF container, one keyframe. */
async function vp8Frames(): Promise<Frame[]> {
  const path = join(dir, 'source.ivf');
  await run('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=640x360:rate=${FPS}`,
    '-frames:v',
    String(FRAMES),
    '-c:v',
    'libvpx',
    '-g',
    '1000',
    '-b:v',
    '500k',
    '-f',
    'ivf',
    path,
  ]);
  const bytes = await readFile(path);
  const frames: Frame[] = [];
  for (let offset = bytes.readUInt16LE(6); offset + 12 <= bytes.length;) {
    const size = bytes.readUInt32LE(offset);
    const data = bytes.subarray(offset + 12, offset + 12 + size);
    frames.push({ data, keyframe: (data[0]! & 1) === 0 });
    offset += 12 + size;
  }
  return frames;
}

/** Waits until the file stops growing (the writer's queue has reached the disk). */
async function settled(path: string): Promise<number> {
  let last = -1;
  for (;;) {
    await sleep(100);
    const { size } = await stat(path);
    if (size === last) return size;
    last = size;
  }
}

async function decodedFrames(path: string): Promise<number> {
  const { stdout } = await run('ffprobe', [
    '-v',
    'quiet',
    '-count_frames',
    '-select_streams',
    'v:0',
    '-show_entries',
    'stream=nb_read_frames',
    '-of',
    'csv=p=0',
    path,
  ]);
  return Number(stdout.trim().split(/[\n,]/)[0]);
}

for (const codec of ['avc', 'vp8'] as const satisfies PassthroughCodec[]) {
  const fileType = codec === 'avc' ? 'mp4' : 'webm';
  test(`Track/capture ${codec}: on disk while recording, a copy or a cut mid-recording decodes, a clean end is remuxed to ${fileType}`, async (t) => {
    const frames = codec === 'avc' ? await h264Frames() : await vp8Frames();
    assert.equal(frames.length, FRAMES);
    assert.equal(frames.filter((f) => f.keyframe).length, 1, 'one keyframe: no fragment boundary to wait for');
    const capture = join(dir, `capture-${codec}.${CAPTURE_EXTENSION[codec]}`);
    const writer = new ContainerWriter(capture, codec);
    const described = describeKeyframe(codec, frames[0]!.data);
    const description = { codecString: described.codecString, width: described.width ?? 640, height: described.height ?? 360 };
    const half = FRAMES / 2;
    frames
      .slice(0, half)
      .forEach((frame, i) => writer.write({ data: frame.data, keyframe: frame.keyframe, timestampSec: i / FPS }, i === 0 ? description : undefined));
    const size = await settled(capture);

    // Mid-recording, as a killed worker leaves it: a whole copy, and one cut in the middle of a frame.
    const copy = join(dir, `copy-${codec}.${CAPTURE_EXTENSION[codec]}`);
    await copyFile(capture, copy);
    const cut = join(dir, `cut-${codec}.${CAPTURE_EXTENSION[codec]}`);
    await copyFile(capture, cut);
    await truncate(cut, size - 700);
    const inCopy = await decodedFrames(copy);
    const inCut = await decodedFrames(cut);
    t.diagnostic(`${codec}: ${half} frames given, ${size} B on disk; copy decodes ${inCopy} frames, cut 700 B short ${inCut}`);
    // All but the one held until the next gives its duration.
    assert.equal(inCopy, half - 1);
    assert.ok(inCut >= half - 3, `${inCut} frames in the cut file`);
    // What the salvage job makes of it: a normal file, playable.
    const salvaged = join(dir, `salvaged-${codec}.${fileType}`);
    await run('ffmpeg', ['-v', 'error', '-y', '-i', cut, '-c', 'copy', ...(fileType === 'mp4' ? ['-movflags', '+faststart'] : []), salvaged]);
    assert.ok((await decodedFrames(salvaged)) >= half - 3);

    frames.slice(half).forEach((frame, i) => writer.write({ data: frame.data, keyframe: frame.keyframe, timestampSec: (half + i) / FPS }));
    await writer.finalize();
    assert.equal(await decodedFrames(capture), FRAMES);

    const supervisor = new Supervisor(pino({ level: 'silent' }), { EGRESS_ID: 'test' });
    const final = join(dir, `final-${codec}.${fileType}`);
    await remux({ ffmpegPath: 'ffmpeg', supervisor }, capture, final, fileType);
    const { stdout } = await run('ffprobe', [
      '-v',
      'error',
      '-count_frames',
      '-show_entries',
      'format=format_name,duration:stream=codec_name,profile,width,height,nb_read_frames',
      '-of',
      'json',
      final,
    ]);
    const info = JSON.parse(stdout) as {
      format: { format_name: string; duration: string };
      streams: { codec_name: string; profile: string; width: number; height: number; nb_read_frames: string }[];
    };
    assert.equal(info.streams.length, 1);
    const [stream] = info.streams;
    assert.equal(stream!.codec_name, codec === 'avc' ? 'h264' : 'vp8');
    assert.equal(`${stream!.width}x${stream!.height}`, '640x360');
    assert.equal(Number(stream!.nb_read_frames), FRAMES);
    assert.ok(Math.abs(Number(info.format.duration) - FRAMES / FPS) < 0.1, info.format.duration);
    const bytes = await readFile(final);
    if (codec === 'avc') {
      assert.match(stream!.profile, /Baseline/);
      // Faststart: the index before the media.
      assert.ok(bytes.indexOf('moov') < bytes.indexOf('mdat'), 'moov first');
    }
    // Remuxed, not re-encoded: the source's encoder is in it (x264 writes its SEI), no libavcodec encoder tag.
    assert.equal(bytes.includes('Lavc'), false, 'no libavcodec encoder');
    if (codec === 'avc') assert.equal(bytes.includes('x264'), true, "the source encoder's SEI is still there");
  });
}

test('Track/capture opus: Ogg pages reach the disk at least every half second while recording; a cut copy plays up to the cut', async (t) => {
  const capture = join(dir, 'capture.ogg');
  const writer = new ContainerWriter(capture, 'opus', { channels: 2 });
  const packet = Uint8Array.of(0xfc, 0xff, 0xfe, 0x00);
  // 5 s of 20 ms packets.
  for (let i = 0; i < 250; i++) writer.write({ data: packet, keyframe: true, timestampSec: i * 0.02 });
  const size = await settled(capture);
  const cut = join(dir, 'cut.ogg');
  await copyFile(capture, cut);
  await truncate(cut, size - 10);
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', cut]);
  t.diagnostic(`opus: 5 s given, ${size} B on disk, the cut copy lasts ${Number(stdout).toFixed(2)} s`);
  assert.ok(Number(stdout) >= 4, `${stdout} s`);
  await writer.finalize();
});
