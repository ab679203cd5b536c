/**
 * Announces each JPEG of one image output. ffmpeg's image2 muxer writes them atomically (a temporary
 * file renamed into place) under consecutive numbers, so the next number existing means one more
 * complete image; only that one name is looked at, however many images the directory holds.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Poller } from './poller.ts';
import type { ImageReport } from '../recording/recorder-contract.ts';

export interface ImageWatcherOptions {
  /** Which image output (plan.images index). */
  outputIndex: number;
  dir: string;
  /** The name ffmpeg gives image `index`. */
  fileName: (index: number) => string;
  /** The number of ffmpeg's first image (image2 `start_number`): a part after a takeover numbers on. */
  startNumber?: number;
  /** Image n shows the frame captured n × interval after time zero. */
  intervalSec: number;
  /** Unix ms of time zero of the video's timeline (its first frame). */
  timeZeroMs: () => number;
  onImage: (image: ImageReport) => void;
  log: Logger;
  pollIntervalMs?: number;
}

export interface ImageWatcher {
  /** Stops watching (ffmpeg failed); nothing more is reported. */
  stop(): Promise<void>;
  /** After ffmpeg has exited: reports every image not reported yet. */
  finish(): Promise<void>;
}

export function watchImages(options: ImageWatcherOptions): ImageWatcher {
  const { outputIndex, dir, log } = options;
  const startNumber = options.startNumber ?? 0;
  let next = startNumber;
  const scan = async () => {
    for (;;) {
      const path = join(dir, options.fileName(next));
      const found = await stat(path).then(
        () => true,
        () => false,
      );
      if (!found) return;
      const index = next++;
      // Image n of this capture shows the frame n intervals after its time zero, whatever number it has.
      const capturedAtMs = options.timeZeroMs() + Math.round((index - startNumber) * options.intervalSec * 1000);
      try {
        options.onImage({ outputIndex, path, index, capturedAtMs });
      } catch (err) {
        log.error({ err, path }, 'onImage failed');
      }
    }
  };
  const poller = new Poller(scan, log, options.pollIntervalMs);
  return { stop: () => poller.stop(), finish: () => poller.finish() };
}
