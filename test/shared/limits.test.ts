/** The limits helpers the API and the warm pool share: defaults from the schema, screen and image sizes. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configSchema } from '../../shared/config/schema.ts';
import { DEFAULT_LIMITS, screenWithinLimits, sizeProblem } from '../../shared/limits.ts';

describe('limits', () => {
  test('DEFAULT_LIMITS are the config defaults', () => {
    assert.deepEqual(DEFAULT_LIMITS, configSchema.parse({}).limits);
    assert.equal(DEFAULT_LIMITS.max_pixels, 3840 * 2160);
  });

  test('screenWithinLimits: sides 16..max and even, width x height within max_pixels, depth 8/16/24', () => {
    for (const [w, h, depth] of [
      [1280, 720, 24],
      [3840, 2160, 24],
      [2160, 3840, 8],
      [16, 16, 16],
    ] as const)
      assert.ok(screenWithinLimits(DEFAULT_LIMITS, w, h, depth), `${w}x${h}x${depth}`);
    for (const [w, h, depth] of [
      [3842, 720, 24],
      [3840, 2162, 24],
      [3840, 3840, 24],
      [14, 720, 24],
      [1281, 720, 24],
      [1280, 720, 32],
      [8192, 8192, 24],
      [Number.NaN, 720, 24],
      [1280.5, 720, 24],
    ] as const) {
      assert.ok(!screenWithinLimits(DEFAULT_LIMITS, w, h, depth), `${w}x${h}x${depth}`);
    }
    assert.ok(!screenWithinLimits({ ...DEFAULT_LIMITS, max_width: 1280 }, 1920, 1080, 24));
  });

  test('sizeProblem names the side; images may have odd sides', () => {
    assert.deepEqual(sizeProblem(DEFAULT_LIMITS, 321, 181, false), undefined);
    assert.equal(sizeProblem(DEFAULT_LIMITS, 321, 180, true)?.side, 'width');
    assert.equal(sizeProblem(DEFAULT_LIMITS, 320, 3842, false)?.side, 'height');
    assert.equal(sizeProblem(DEFAULT_LIMITS, 3840, 2161, false)?.side, 'width and height');
  });
});
