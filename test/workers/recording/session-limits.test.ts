/**
 * session_limits (workers/recording/session-limits.ts): the shortest limit among the outputs a plan has, each
 * output kind naming its own; the limits armed at the first frame, the size checked against what was written.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import type { EgressPlan } from '../../../shared/egress-plan.ts';
import { maxDurationSec, SessionLimits, workDirSize } from '../../../workers/recording/session-limits.ts';
import { webPlan } from '../../support/plans.ts';

const limits = {
  file_output_max_duration: 0,
  stream_output_max_duration: 0,
  segment_output_max_duration: 0,
  image_output_max_duration: 0,
  file_output_max_size: 0,
};
const websocketPlan = (): EgressPlan => ({
  ...webPlan({ url: 'https://example.com', file: false }),
  stream: { protocol: 'websocket', redactedUrls: [] },
});

describe('max duration', () => {
  test('the shortest among the outputs the plan has; 0 = unlimited', () => {
    const plan = webPlan({ url: 'https://example.com', segments: {}, stream: true });
    assert.equal(maxDurationSec(plan, limits), 0);
    assert.equal(
      maxDurationSec(plan, { ...limits, file_output_max_duration: 60, segment_output_max_duration: 30, image_output_max_duration: 5 }),
      30,
    );
    assert.equal(maxDurationSec(plan, { ...limits, stream_output_max_duration: 10, file_output_max_duration: 60 }), 10);
  });

  test("a WebSocket is a stream; the egress's own maximum counts too", () => {
    assert.equal(maxDurationSec(websocketPlan(), { ...limits, stream_output_max_duration: 20, file_output_max_duration: 5 }), 20);
    assert.equal(maxDurationSec({ ...websocketPlan(), maxDurationSec: 7 }, { ...limits, stream_output_max_duration: 20 }), 7);
  });
});

describe('limits of a session', () => {
  test('a part after a takeover starts with what the earlier parts left of the limit', async () => {
    let reached = 0;
    const part = (recordedBeforeSec: number) =>
      new SessionLimits({ limitSec: 0.3, recordedBeforeSec, sizeLimitBytes: 0, workDir: tmpdir(), onReached: () => (reached += 1) });
    const second = part(0.25);
    assert.ok(Math.abs(second.leftSec - 0.05) < 1e-9);
    second.arm();
    await sleep(120);
    assert.equal(reached, 1, 'reached after what was left, not after the whole limit');
    second.clear();
    const spent = part(0.5);
    assert.equal(spent.leftSec, 0);
    spent.arm();
    await sleep(20);
    assert.equal(reached, 2, 'reached at once when the earlier parts used it up');
    spent.clear();
    assert.equal(new SessionLimits({ limitSec: 0, recordedBeforeSec: 99, sizeLimitBytes: 0, workDir: tmpdir(), onReached: () => {} }).leftSec, 0);
  });

  test('the duration limit runs from arm(), and clear() disarms it', async () => {
    let reached = 0;
    const limitsOf = () => new SessionLimits({ limitSec: 0.05, sizeLimitBytes: 0, workDir: tmpdir(), onReached: () => (reached += 1) });
    const armed = limitsOf();
    await sleep(80);
    assert.equal(reached, 0, 'not before the first frame');
    armed.arm();
    await sleep(100);
    assert.equal(reached, 1);
    assert.ok(armed.reached);
    const cleared = limitsOf();
    cleared.arm();
    cleared.clear();
    await sleep(100);
    assert.equal(reached, 1);
    assert.equal(cleared.reached, false);
  });

  test('the size limit counts every file under the work directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'limits-test-'));
    try {
      await writeFile(join(dir, 'a'), Buffer.alloc(600));
      await writeFile(join(dir, 'b'), Buffer.alloc(600));
      assert.equal(await workDirSize(dir), 1200);
      /** Whether the size limit is reached within a few checks. */
      const reachedWith = async (sizeLimitBytes: number, writtenBeforeBytes = 0) => {
        const sized = new SessionLimits({
          limitSec: 0,
          sizeLimitBytes,
          writtenBeforeBytes,
          workDir: dir,
          onReached: () => {},
          sizeCheckIntervalMs: 20,
        });
        sized.arm();
        await sleep(100);
        sized.clear();
        return sized.reached;
      };
      assert.ok(await reachedWith(1000));
      assert.equal(await reachedWith(2000), false);
      // A part after a takeover: what the earlier parts wrote counts too.
      assert.ok(await reachedWith(2000, 900), '1200 bytes here + 900 before the takeover ≥ 2000');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
