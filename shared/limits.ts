/**
 * The `limits` config section as the rest of the service uses it: what a request may ask of a worker. The
 * API refuses anything beyond it (api/validate); workers use the same checks before they act on a size
 * that did not come through the API (the warm pool following a plan's screen).
 */
import { limitsSchema, type Config } from './config/schema.ts';

export type Limits = Config['limits'];

/** The defaults, for tests and tools that run without a config file. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze(limitsSchema.parse(undefined));

/** Smaller than this, LiveKit refuses a screen (and x264 has nothing to work with). */
export const MIN_SIDE = 16;

/** X11 screen depths Xvfb is started with (LiveKit's `depth`). */
export const SCREEN_DEPTHS: ReadonlySet<number> = new Set([8, 16, 24]);

export interface SizeProblem {
  side: 'width' | 'height' | 'width and height';
  detail: string;
}

/**
 * Why `width` x `height` cannot be captured or written under `limits`, or undefined when it can. `even`:
 * a video screen, whose 4:2:0 chroma needs even sides (a JPEG takes odd ones).
 */
export function sizeProblem(limits: Limits, width: number, height: number, even: boolean): SizeProblem | undefined {
  const side = (name: 'width' | 'height', value: number, max: number): SizeProblem | undefined => {
    if (!Number.isInteger(value) || value < MIN_SIDE || value > max) return { side: name, detail: `must be from ${MIN_SIDE} to ${max}` };
    if (even && value % 2 !== 0) return { side: name, detail: 'must be even' };
    return undefined;
  };
  const problem = side('width', width, limits.max_width) ?? side('height', height, limits.max_height);
  if (problem) return problem;
  if (width * height > limits.max_pixels) return { side: 'width and height', detail: `${width}x${height} is more than ${limits.max_pixels} pixels` };
  return undefined;
}

/** A screen (Xvfb display) a recording may have under `limits`: for the warm pool before it follows a plan. */
export function screenWithinLimits(limits: Limits, width: number, height: number, depth: number): boolean {
  return SCREEN_DEPTHS.has(depth) && sizeProblem(limits, width, height, true) === undefined;
}
