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
      let reached = false;
      const sized = new SessionLimits({
        limitSec: 0,
        sizeLimitBytes: 1000,
        workDir: dir,
        onReached: () => (reached = true),
        sizeCheckIntervalMs: 20,
      });
      sized.arm();
      await sleep(100);
      sized.clear();
      assert.ok(reached && sized.reached);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
