/**
 * A media file's duration in seconds, read in-process from its packets (mediabunny; no ffprobe needed beside
 * `ffmpeg_path`): what a player and ffprobe show, not the wall-clock time the recording took.
 */
import { ALL_FORMATS, FilePathSource, Input } from 'mediabunny';

export async function mediaDurationSec(path: string): Promise<number> {
  const input = new Input({ source: new FilePathSource(path), formats: ALL_FORMATS });
  try {
    return await input.computeDuration();
  } finally {
    input.dispose();
  }
}
