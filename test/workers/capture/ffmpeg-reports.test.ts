/** ffmpeg's `-progress` lines read into a capture's counters (workers/capture/ffmpeg-reports.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readProgressLine } from '../../../workers/capture/ffmpeg-reports.ts';

test('counters follow the block; its end says whether output has begun', () => {
  const stats = { frames: 0, duplicated: 0, dropped: 0 };
  const progress = { outTimeUs: 0 };
  const block = (lines: string[]) => lines.map((line) => readProgressLine(line, stats, progress));
  assert.deepEqual(block(['frame=0', 'out_time_us=0', 'progress=continue']), [false, false, false], 'nothing encoded yet');
  assert.deepEqual(block(['frame=0', 'out_time_us=20000', 'progress=continue']), [false, false, true], 'audio-only output counts');
  block(['frame=31', 'dup_frames=2', 'drop_frames=1', 'speed=1x', 'progress=end']);
  assert.deepEqual(stats, { frames: 31, duplicated: 2, dropped: 1 });
});
