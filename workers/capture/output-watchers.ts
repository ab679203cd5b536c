/**
 * The watchers of what a capture writes: the segments as ffmpeg closes them and each image output's JPEGs,
 * announced to the recording's outputs (RecordingOutputs.segments / .images), stopped or finished together.
 */
import type { Logger } from 'pino';
import type { RecordingOutputs } from '../recording/recorder-contract.ts';
import { imageFileName, segmentFileName, type CaptureLayout } from './ffmpeg-args.ts';
import { watchImages, type ImageWatcher } from './image-watcher.ts';
import { watchSegments, type SegmentWatcher } from './segment-watcher.ts';

export interface OutputWatchers {
  /** Announces nothing more (after a failure). */
  stop(): Promise<void>;
  /** Announces what is left, up to the end of the capture. */
  finish(endedAtMs: number): Promise<void>;
}

export function watchOutputs(outputs: RecordingOutputs, layout: CaptureLayout, timeZeroMs: () => number, log: Logger): OutputWatchers {
  const onSegment = outputs.segments?.onSegment;
  const onImage = outputs.images?.onImage;
  const segments: SegmentWatcher | undefined =
    layout.segments && onSegment
      ? watchSegments({
          listPath: layout.segments.listPath,
          dir: layout.segments.dir,
          fileName: segmentFileName,
          startNumber: layout.segments.startNumber,
          timeZeroMs,
          onSegment,
          log,
        })
      : undefined;
  const images: ImageWatcher[] = onImage
    ? layout.images.map(({ dir, output, startNumber }, outputIndex) =>
        watchImages({ outputIndex, dir, fileName: imageFileName, startNumber, intervalSec: output.captureIntervalSec, timeZeroMs, onImage, log }),
      )
    : [];
  return {
    stop: async () => {
      await Promise.all([segments?.stop(), ...images.map((watcher) => watcher.stop())]);
    },
    finish: async (endedAtMs) => {
      await Promise.all([segments?.finish(endedAtMs), ...images.map((watcher) => watcher.finish())]);
    },
  };
}
