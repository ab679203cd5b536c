/**
 * One capture, one encode, every output: the web recorder against real Chromium, Xvfb, PulseAudio and
 * ffmpeg writing a file, HLS segments, two image outputs and the MPEG-TS stream at once; segments and
 * images announced while recording, each complete when announced; and what all that costs beside a file
 * alone (CPU of the process tree, printed).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import type { EgressPlan } from '../../../shared/egress-plan.ts';
import type { ImageReport, RecordingResult, RecordingStart, SegmentReport } from '../../../workers/recording/recorder-contract.ts';
import { streamFromPipe } from '../../../workers/capture/stream-pipe.ts';
import { recordWeb } from '../../../workers/web/web-recorder.ts';
import { probe } from '../../support/ffprobe.ts';
import { TEST_RECORDER_SETTINGS, webPlan } from '../../support/plans.ts';
import { startTestPage, type TestPage } from '../../support/test-page.ts';

const run = promisify(execFile);
const log = pino({ level: 'warn' });

interface Run {
  plan: EgressPlan;
  workDir: string;
  result: RecordingResult;
  /** Unix ms stop() was called. */
  stoppedAtMs: number;
  segments: (SegmentReport & { reportedAtMs: number })[];
  images: ImageReport[];
  /** Everything the stream delivered, and how much of it before stop(). */
  ts: Buffer;
  tsBytesBeforeStop: number;
  /** Problems seen inside the callbacks (asserted afterwards: a throw there is only logged). */
  problems: string[];
}

/** Records `plan` for `seconds` after it is active, with every output's directory and callback. */
async function record(plan: EgressPlan, seconds: number): Promise<Run> {
  const workDir = await mkdtemp(join(tmpdir(), 'outputs-test-'));
  const segments: Run['segments'] = [];
  const images: ImageReport[] = [];
  const problems: string[] = [];
  const chunks: Buffer[] = [];
  let tsBytes = 0;
  let onActive = (_ms: number) => {};
  const active = new Promise<number>((resolve) => (onActive = resolve));
  const start: RecordingStart = {
    plan,
    workDir,
    outputs: {
      ...(plan.file ? { file: { path: join(workDir, 'out', 'recording.mp4') } } : {}),
      ...(plan.segments
        ? {
            segments: {
              dir: join(workDir, 'segments'),
              onSegment: (segment: SegmentReport) => {
                segments.push({ ...segment, reportedAtMs: Date.now() });
                // Closed when announced: the size it had then is the size it keeps.
                if (statSync(segment.path).size !== segment.sizeBytes) problems.push(`${segment.path} still growing`);
              },
            },
          }
        : {}),
      images: {
        dirs: plan.images.map((_, i) => join(workDir, `images${i}`)),
        onImage: (image) => {
          images.push(image);
          // Complete when announced: a JPEG ends with its EOI marker.
          const jpeg = readFileSync(image.path);
          if (jpeg.readUInt16BE(jpeg.length - 2) !== 0xffd9) problems.push(`${image.path} incomplete`);
        },
      },
      stream: { onStream: (ts) => ts.on('data', (chunk: Buffer) => (chunks.push(chunk), (tsBytes += chunk.length))) },
    },
    settings: TEST_RECORDER_SETTINGS,
    log,
    onActive,
  };
  const recording = recordWeb(start);
  await Promise.race([active, recording.done]);
  await sleep(seconds * 1000);
  const stoppedAtMs = Date.now();
  const tsBytesBeforeStop = tsBytes;
  recording.stop('test over');
  const result = await recording.done;
  return { plan, workDir, result, stoppedAtMs, segments, images, ts: Buffer.concat(chunks), tsBytesBeforeStop, problems };
}

/** Time and keyframe flag of the first video packet of a file. */
async function firstVideoPacket(path: string): Promise<{ ptsSec: number; keyframe: boolean }> {
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-read_intervals',
    '%+#1',
    '-show_entries',
    'packet=pts_time,flags',
    '-of',
    'csv=p=0',
    path,
  ]);
  const [pts = '', flags = ''] = stdout.trim().split('\n')[0]!.split(',');
  return { ptsSec: Number(pts), keyframe: flags.includes('K') };
}

/** Processes of a recording, by the EGRESS_ID its supervisor tags them with. */
async function processesOf(plan: EgressPlan): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const environ = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
    if (environ.split('\0').includes(`EGRESS_ID=${plan.egressId}`)) found.push(pid);
  }
  return found;
}

test('the stream pipe is drained for a consumer that does not read: whole TS packets dropped past the bound', async () => {
  const packet = (n: number) => Buffer.concat([Buffer.from([0x47]), Buffer.alloc(187, n % 256)]);
  const pipe = new PassThrough();
  const ts = streamFromPipe(pipe, pino({ level: 'silent' }), 188 * 10);
  // 40 packets in chunks that ignore packet bounds; nobody reads.
  const all = Buffer.concat(Array.from({ length: 40 }, (_, n) => packet(n)));
  for (let at = 0; at < all.length; at += 100) pipe.write(all.subarray(at, at + 100));
  await sleep(10);
  assert.ok(ts.readableLength <= 188 * 10, `${ts.readableLength} bytes held`);
  pipe.end();
  const got: Buffer[] = [];
  for await (const chunk of ts) got.push(chunk as Buffer);
  const out = Buffer.concat(got);
  assert.equal(out.length % 188, 0);
  const kept = Array.from({ length: out.length / 188 }, (_, i) => out.subarray(i * 188, (i + 1) * 188));
  for (const p of kept) assert.ok(p[0] === 0x47 && p.subarray(1).every((byte) => byte === p[1]), 'a whole packet');
  assert.deepEqual(
    kept.map((p) => p[1]),
    Array.from({ length: 10 }, (_, n) => n),
    'the first ten, then nothing',
  );
});

describe('web recorder outputs', { concurrency: false }, () => {
  let page: TestPage;
  const workDirs: string[] = [];
  before(async () => {
    page = await startTestPage();
  });
  after(async () => {
    await page.close();
    await Promise.all(workDirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  test('file + 4 s segments + two image outputs + stream from one capture, for ~13 s', async () => {
    const plan = webPlan({
      url: page.url,
      segments: { durationSec: 4 },
      stream: true,
      images: [
        { width: 640, height: 360, intervalSec: 2 },
        { width: 320, height: 240, intervalSec: 2 },
      ],
    });
    const got = await record(plan, 13);
    workDirs.push(got.workDir);
    const { result } = got;
    assert.deepEqual(got.problems, []);
    const wallSec = (result.endedAtMs - result.startedAtMs) / 1000;

    // The file, as ever.
    assert.ok(result.file);
    const file = await probe(result.file.path);
    assert.deepEqual(
      file.streams.map((s) => s.codec_name),
      ['h264', 'aac'],
    );
    assert.equal(file.streams[0]?.width, 1280);
    assert.equal(file.streams[0]?.height, 720);
    assert.ok(Math.abs(file.format.duration - wallSec) < 1, `file ${file.format.duration} s, recorded ${wallSec} s`);

    // Segments: announced as they closed, 4 s each but the last, each starting on a keyframe.
    const { segments } = got;
    assert.ok(
      segments.length >= Math.floor(wallSec / 4) && segments.length <= Math.ceil(wallSec / 4) + 1,
      `${segments.length} segments for ${wallSec} s`,
    );
    assert.ok(segments[0]!.reportedAtMs < got.stoppedAtMs, 'the first segment is announced while recording');
    assert.ok(segments.at(-2)!.reportedAtMs < got.stoppedAtMs, 'only the last one waits for the stop');
    assert.deepEqual(
      segments.map((s) => s.index),
      segments.map((_, i) => i),
    );
    let previousEndMs = result.startedAtMs;
    for (const [i, segment] of segments.entries()) {
      const media = await probe(segment.path);
      assert.equal(media.format.format_name, 'mpegts');
      assert.deepEqual(media.streams.map((s) => s.codec_name).sort(), ['aac', 'h264']);
      assert.equal(statSync(segment.path).size, segment.sizeBytes);
      if (i < segments.length - 1) {
        assert.ok(Math.abs(media.format.duration - 4) < 0.25, `segment ${i}: ${media.format.duration} s`);
        assert.ok(Math.abs(segment.durationSec - 4) < 0.1, `segment ${i} reported ${segment.durationSec} s`);
      }
      assert.ok((await firstVideoPacket(segment.path)).keyframe, `segment ${i} starts with a keyframe`);
      // Back to back on the wall clock.
      assert.ok(Math.abs(segment.startedAtMs - previousEndMs) < 100, `segment ${i} starts at +${segment.startedAtMs - result.startedAtMs} ms`);
      previousEndMs = segment.startedAtMs + segment.durationSec * 1000;
    }

    // Images: one every 2 s per output, at the output's size, dated from the capture's start.
    for (const [outputIndex, size] of [
      [0, { width: 640, height: 360 }],
      [1, { width: 320, height: 240 }],
    ] as const) {
      const images = got.images.filter((image) => image.outputIndex === outputIndex);
      assert.ok(
        images.length >= Math.floor(wallSec / 2) && images.length <= Math.ceil(wallSec / 2) + 1,
        `output ${outputIndex}: ${images.length} images for ${wallSec} s`,
      );
      assert.deepEqual(
        images.map((image) => image.index),
        images.map((_, i) => i),
      );
      assert.deepEqual(
        images.map((image) => image.capturedAtMs - result.startedAtMs),
        images.map((_, i) => i * 2000),
      );
      for (const image of [images[0]!, images.at(-1)!]) {
        const jpeg = await probe(image.path);
        assert.equal(jpeg.streams[0]?.codec_name, 'mjpeg');
        assert.deepEqual({ width: jpeg.streams[0]?.width, height: jpeg.streams[0]?.height }, size);
      }
    }

    // The stream: MPEG-TS flowing while recording, H.264 + AAC.
    assert.ok(got.tsBytesBeforeStop > 100_000, `${got.tsBytesBeforeStop} bytes of stream before the stop`);
    const tsPath = join(got.workDir, 'stream.ts');
    await writeFile(tsPath, got.ts);
    const stream = await probe(tsPath);
    assert.equal(stream.format.format_name, 'mpegts');
    assert.deepEqual(stream.streams.map((s) => s.codec_name).sort(), ['aac', 'h264']);
    assert.ok(Math.abs(stream.format.duration - wallSec) < 1, `stream ${stream.format.duration} s, recorded ${wallSec} s`);

    assert.deepEqual(await processesOf(plan), []);
  });

  test('segments only, audio only: AAC MPEG-TS segments and no file', async () => {
    const plan = webPlan({ url: page.url, video: false, file: false, segments: { durationSec: 2 } });
    const got = await record(plan, 5);
    workDirs.push(got.workDir);
    assert.deepEqual(got.problems, []);
    assert.equal(got.result.file, undefined);
    assert.ok(got.segments.length >= 2, `${got.segments.length} segments`);
    for (const [i, segment] of got.segments.entries()) {
      const media = await probe(segment.path);
      assert.equal(media.format.format_name, 'mpegts');
      assert.deepEqual(
        media.streams.map((s) => [s.codec_name, s.sample_rate, s.channels]),
        [['aac', 44100, 2]],
      );
      if (i < got.segments.length - 1) assert.ok(Math.abs(segment.durationSec - 2) < 0.1, `segment ${i} reported ${segment.durationSec} s`);
    }
    assert.deepEqual(await processesOf(plan), []);
  });
});
