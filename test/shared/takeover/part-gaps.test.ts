/**
 * A recording taken over by another worker: the gaps between its parts and the time recorded across them
 * (shared/takeover/part-gaps.ts), as the manifest lists them (workers/outputs/manifest.ts), and the keys
 * of parts delivered apart (workers/takeover/part-files.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { partGaps, recordedBeforeSec } from '../../../shared/takeover/part-gaps.ts';
import type { RecordedPart } from '../../../shared/takeover/part-log.ts';
import { manifestTakeover } from '../../../workers/outputs/manifest.ts';
import { partKey } from '../../../workers/takeover/part-files.ts';

const t0 = Date.UTC(2026, 11, 6, 0, 0, 0);
const part = (n: number, startedAtMs: number, lastSeenAtMs: number): RecordedPart => ({
  part: n,
  workerId: `w${n}`,
  workDir: `/tmp/e.part-${n}`,
  startedAtMs,
  lastSeenAtMs,
});
const parts = [part(1, t0, t0 + 10_000), part(2, t0 + 18_000, t0 + 30_000), part(3, t0 + 40_000, t0 + 45_000)];

test('one gap between each two parts: from the end of the earlier (last seen, or measured) to the first frame of the next', () => {
  assert.deepEqual(partGaps(parts.slice(0, 1)), []);
  assert.deepEqual(partGaps(parts), [
    { afterPart: 1, fromMs: t0 + 10_000, toMs: t0 + 18_000, seconds: 8 },
    { afterPart: 2, fromMs: t0 + 30_000, toMs: t0 + 40_000, seconds: 10 },
  ]);
  // Part 1's file holds 12.5 s: it recorded past its last renewal.
  const measured = new Map([[1, 12.5]]);
  assert.deepEqual(partGaps(parts, measured)[0], { afterPart: 1, fromMs: t0 + 12_500, toMs: t0 + 18_000, seconds: 5.5 });
  // Never a negative gap, whatever was measured.
  assert.equal(partGaps(parts, new Map([[1, 30]]))[0]!.seconds, 0);
});

test('recorded time before a part: the earlier parts only, the gaps left out', () => {
  assert.equal(recordedBeforeSec(parts, 1), 0);
  assert.equal(recordedBeforeSec(parts, 2), 10);
  assert.equal(recordedBeforeSec(parts, 3), 22);
  assert.equal(recordedBeforeSec(parts, 3, new Map([[1, 12.5]])), 24.5);
});

test('the manifest lists parts and gaps (unix ns) only for a recording of more than one part', () => {
  assert.deepEqual(
    manifestTakeover(parts.slice(0, 1), [], (p) => p.lastSeenAtMs),
    {},
  );
  const listed = manifestTakeover(parts.slice(0, 2), partGaps(parts.slice(0, 2)), (p) => p.lastSeenAtMs);
  assert.deepEqual(listed.gaps, [{ after_part: 1, from: (t0 + 10_000) * 1e6, to: (t0 + 18_000) * 1e6, seconds: 8 }]);
  assert.deepEqual(
    listed.parts?.map((p) => [p.part, p.started_at, p.ended_at]),
    [
      [1, t0 * 1e6, (t0 + 10_000) * 1e6],
      [2, (t0 + 18_000) * 1e6, (t0 + 30_000) * 1e6],
    ],
  );
});

test('a part delivered on its own: _part<n> before the extension, in the same directory', () => {
  assert.equal(partKey('rec/room/2026-12-06.mp4', 2), 'rec/room/2026-12-06_part2.mp4');
  assert.equal(partKey('a.b/c', 3), 'a.b/c_part3');
  assert.equal(partKey('top.ogg', 1), 'top_part1.ogg');
});
