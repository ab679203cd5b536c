/**
 * Fits an I420 picture into the recording's frame: scaled (nearest neighbour) to the largest size that
 * keeps its aspect ratio, centred, black around it, as LiveKit's SDK path does (videoscale adds borders).
 * Nearest neighbour because it runs in JavaScript for every new frame: a destination row that repeats
 * the row above (upscaling) is one copy, and the others are a lookup per pixel.
 */

/** Black in limited-range I420: luma 16, neutral chroma. */
export const BLACK_LUMA = 16;
const NEUTRAL_CHROMA = 128;

export interface I420Size {
  width: number;
  height: number;
}

/** Bytes of an I420 picture of even width and height (the recording's). */
export const i420Bytes = ({ width, height }: I420Size): number => width * height + 2 * (width / 2) * (height / 2);

/** A black picture of the given (even) size. */
export function blackI420(size: I420Size): Buffer {
  const lumaBytes = size.width * size.height;
  const picture = Buffer.alloc(i420Bytes(size), NEUTRAL_CHROMA);
  picture.fill(BLACK_LUMA, 0, lumaBytes);
  return picture;
}

/**
 * `source` (I420, planes packed as rtc-node delivers them: Y, then U and V of ceil(w/2)×ceil(h/2)) fitted
 * into a new picture of `target` size (even width and height). A new buffer each time: writes already
 * queued for the old one must not change.
 */
export function fitI420(source: Uint8Array, sourceSize: I420Size, target: I420Size): Buffer {
  const { width: sw, height: sh } = sourceSize;
  const { width: tw, height: th } = target;
  if (sw === tw && sh === th) return Buffer.from(source.buffer, source.byteOffset, i420Bytes(target));
  // The scaled picture, even-sized and even-placed so the chroma planes line up.
  const scale = Math.min(tw / sw, th / sh);
  const w = Math.min(tw, Math.max(2, Math.round((sw * scale) / 2) * 2));
  const h = Math.min(th, Math.max(2, Math.round((sh * scale) / 2) * 2));
  const x0 = ((tw - w) / 4) | 0;
  const y0 = ((th - h) / 4) | 0;
  const out = blackI420(target);
  const scw = (sw + 1) >> 1;
  const sch = (sh + 1) >> 1;
  const lumaBytes = sw * sh;
  // Luma: the scaled picture at (2·x0, 2·y0).
  plane(source, 0, sw, sw, sh, out, 0, tw, 2 * x0, 2 * y0, w, h);
  // Chroma: half of everything.
  plane(source, lumaBytes, scw, scw, sch, out, tw * th, tw / 2, x0, y0, w / 2, h / 2);
  plane(source, lumaBytes + scw * sch, scw, scw, sch, out, tw * th + (tw / 2) * (th / 2), tw / 2, x0, y0, w / 2, h / 2);
  return out;
}

/** Scales one plane (`sw`×`sh` at `src[srcAt]`, rows `srcStride` apart) into `w`×`h` at (x, y) of the destination plane. */
function plane(
  src: Uint8Array,
  srcAt: number,
  srcStride: number,
  sw: number,
  sh: number,
  dst: Buffer,
  dstAt: number,
  dstStride: number,
  x: number,
  y: number,
  w: number,
  h: number,
): void {
  const columns = new Int32Array(w);
  for (let i = 0; i < w; i++) columns[i] = Math.min(sw - 1, Math.floor(((i + 0.5) * sw) / w));
  let previousRow = -1;
  for (let j = 0; j < h; j++) {
    const row = Math.min(sh - 1, Math.floor(((j + 0.5) * sh) / h));
    const to = dstAt + (y + j) * dstStride + x;
    if (row === previousRow) {
      dst.copyWithin(to, to - dstStride, to - dstStride + w);
      continue;
    }
    previousRow = row;
    const from = srcAt + row * srcStride;
    for (let i = 0; i < w; i++) dst[to + i] = src[from + columns[i]!]!;
  }
}
