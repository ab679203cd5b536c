/**
 * A part of a recording taken over by another worker numbers its segments and images on from where the
 * earlier parts stopped: ffmpeg is told the first number (segment_start_number, image2 start_number), and the
 * watchers look for those names, report the recording's numbers, and date images from this capture's start.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { captureArgs, imageFileName, segmentFileName, type CaptureInput, type CaptureLayout } from '../../../workers/capture/ffmpeg-args.ts';
import { watchImages } from '../../../workers/capture/image-watcher.ts';
import { watchSegments } from '../../../workers/capture/segment-watcher.ts';
import type { ImageReport, SegmentReport } from '../../../workers/recording/recorder-contract.ts';
import { webPlan } from '../../support/plans.ts';

const log = pino({ level: 'silent' });
let dir: string;
before(async () => (dir = await mkdtemp(join(tmpdir(), 'numbering-'))));
after(async () => rm(dir, { recursive: true, force: true }));

const video: CaptureInput = { format: 'x11grab', kind: 'video', args: ['-f', 'x11grab', '-i', ':9'], queueSize: 8, missing: 'no frames' };

test('ffmpeg starts the segments and each image output at the numbers it is given', () => {
  const plan = webPlan({ url: 'https://example.com', segments: { durationSec: 2 }, images: [{ width: 320, height: 180, intervalSec: 2 }] });
  const layout: CaptureLayout = {
    file: { container: 'mp4', capturePath: join(dir, 'capture.mp4'), filePath: join(dir, 'out.mp4') },
    segments: { dir: join(dir, 'segments'), listPath: join(dir, 'segments.csv'), durationSec: 2, startNumber: 7 },
    images: [{ dir: join(dir, 'images-0'), output: plan.images[0]!, startNumber: 4 }],
    stream: false,
  };
  const args = captureArgs(plan, [video], layout).join(' ');
  assert.match(args, /segment_start_number=7/);
  assert.match(args, /start_number=4/);
  const first = captureArgs(plan, [video], {
    ...layout,
    segments: { ...layout.segments!, startNumber: 0 },
    images: [{ ...layout.images[0]!, startNumber: 0 }],
  }).join(' ');
  assert.match(first, /segment_start_number=0/);
  assert.match(first, /\[f=image2:start_number=0/);
});

test('the segment watcher reports from the start number on, each once its successor exists', async () => {
  const segDir = join(dir, 'seg');
  const listPath = join(dir, 'seg.csv');
  await mkdir(segDir, { recursive: true });
  const reports: SegmentReport[] = [];
  const watcher = watchSegments({
    listPath,
    dir: segDir,
    fileName: segmentFileName,
    startNumber: 5,
    timeZeroMs: () => 1_000_000,
    onSegment: (s) => reports.push(s),
    log,
    pollIntervalMs: 10,
  });
  for (const n of [5, 6, 7]) await writeFile(join(segDir, segmentFileName(n)), 'x'.repeat(188));
  await writeFile(listPath, `${segmentFileName(5)},0.000000,2.000000\n${segmentFileName(6)},2.000000,4.000000\n`);
  await watcher.finish(1_000_000 + 5000);
  assert.deepEqual(
    reports.map((r) => [r.index, r.startedAtMs, r.durationSec]),
    [
      [5, 1_000_000, 2],
      [6, 1_002_000, 2],
      // Not listed (ffmpeg killed before it could), yet written: dated to the capture's end.
      [7, 1_004_000, 1],
    ],
  );
});

test('the image watcher reports from the start number on, dated from this capture’s time zero', async () => {
  const imgDir = join(dir, 'img');
  await mkdir(imgDir, { recursive: true });
  for (const n of [3, 4]) await writeFile(join(imgDir, imageFileName(n)), 'jpeg');
  // An earlier part's number in this directory is never looked at.
  await writeFile(join(imgDir, imageFileName(0)), 'jpeg');
  const reports: ImageReport[] = [];
  const watcher = watchImages({
    outputIndex: 0,
    dir: imgDir,
    fileName: imageFileName,
    startNumber: 3,
    intervalSec: 2,
    timeZeroMs: () => 5000,
    onImage: (i) => reports.push(i),
    log,
    pollIntervalMs: 10,
  });
  await watcher.finish();
  assert.deepEqual(
    reports.map((r) => [r.index, r.capturedAtMs]),
    [
      [3, 5000],
      [4, 7000],
    ],
  );
});
