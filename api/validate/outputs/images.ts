/**
 * The image outputs of a request (ImageOutput): at most `max_image_outputs`, none without video, each JPEG
 * only, its suffix, interval and size (the encoding's when unset, within the screen's bounds), and its name
 * prefix checked as a storage key. Checked late (they need video settled); they carry no audio.
 */
import { ImageCodec, ImageFileSuffix, type ImageOutput } from '@livekit/protocol';
import { pathPolicyOf, type ImageOutputPlan } from '../../../shared/egress-plan.ts';
import { noCompatibleCodec } from '../../../shared/encoding.ts';
import { invalidField } from '../../../shared/errors.ts';
import { sizeProblem } from '../../../shared/limits.ts';
import { resolveImagePrefix } from '../../../shared/naming.ts';
import { IMAGE_SUFFIX_LENGTH, checkStorageKey } from '../storage-keys.ts';
import { stored, type Stored } from './stored.ts';
import { seconds, type OutputContext } from './output-context.ts';
import { requestOutputKind } from './output-kind.ts';
import { v2Upload } from './upload-storage.ts';

const IMAGE_SUFFIX: ReadonlyMap<ImageFileSuffix, ImageOutputPlan['filenameSuffix']> = new Map([
  [ImageFileSuffix.IMAGE_SUFFIX_INDEX, 'index'],
  [ImageFileSuffix.IMAGE_SUFFIX_TIMESTAMP, 'timestamp'],
  [ImageFileSuffix.IMAGE_SUFFIX_NONE_OVERWRITE, 'none_overwrite'],
]);

const JPEG_CODECS: ReadonlySet<ImageCodec> = new Set([ImageCodec.IC_DEFAULT, ImageCodec.IC_JPEG]);

export const DEFAULT_CAPTURE_INTERVAL_SEC = 10;

/**
 * An image side: 0 takes the encoding's (LiveKit sizes SDK-source images from the track; we use the
 * encoding size for every source); a negative one is refused, as ffmpeg would.
 */
function imageSide(value: number, fallback: number, field: string): number {
  if (value < 0) throw invalidField(field, 'must not be negative');
  return value || fallback;
}

export function checkImages({ output, storage }: Stored<ImageOutput>, ctx: OutputContext): ImageOutputPlan {
  if (!JPEG_CODECS.has(output.imageCodec)) throw noCompatibleCodec();
  const filenameSuffix = IMAGE_SUFFIX.get(output.filenameSuffix);
  if (!filenameSuffix) throw invalidField('filename_suffix');
  const captureIntervalSec = seconds(output.captureInterval, ctx.limits.max_capture_interval, DEFAULT_CAPTURE_INTERVAL_SEC, 'capture_interval');
  const width = imageSide(output.width, ctx.encoding.width, 'image width');
  const height = imageSide(output.height, ctx.encoding.height, 'image height');
  // The screen's bounds, but odd sides are fine: a JPEG has no 4:2:0 constraint.
  const size = sizeProblem(ctx.limits, width, height, false);
  if (size) throw invalidField(`image ${size.side}`, size.detail);
  const names = resolveImagePrefix(output.filenamePrefix, ctx.vars, pathPolicyOf(storage));
  checkStorageKey(names.dir + names.prefix, IMAGE_SUFFIX_LENGTH, storage, 'filename_prefix');
  return {
    captureIntervalSec,
    width,
    height,
    filenamePrefix: output.filenamePrefix,
    filenameSuffix,
    disableManifest: output.disableManifest,
    storage,
  };
}

export const imagesKind = requestOutputKind<Stored<ImageOutput>>({
  name: 'images',
  fromV1: (request) => request.imageOutputs.map((i) => stored(i, i.output)),
  fromV2: ({ config, storage }, request) =>
    config.case === 'images' ? stored(config.value, v2Upload(storage, request.storage, config.value.output)) : undefined,
  uploadOf: (image) => image.upload,
  rules: (list) => ({
    checkCount: (limits) => {
      if (list.length > limits.max_image_outputs) throw invalidField('image outputs', `at most ${limits.max_image_outputs}`);
    },
    late: true,
    check: (ctx) => {
      if (list.length === 0) return undefined;
      if (!ctx.video) throw invalidField('audio_only images');
      const images = list.map((image) => checkImages(image, ctx));
      return { carriesAudio: false, plan: () => ({ images }) };
    },
  }),
});
