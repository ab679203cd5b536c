/** What a recording part leaves on the shared tmp_dir, made by ffmpeg for the takeover tests (workers/takeover/). */
import { execFile } from 'node:child_process';
import { mkdir, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A part's crash-safe capture (fragmented MP4, H.264 + AAC, `capture.mp4`) of `seconds` of a solid `color` in
 * its directory (created), at `size` (default 320x240), cut to `keep` of its size when the part was killed.
 */
export async function capturePart(workDir: string, color: string, seconds: number, options: { keep?: number; size?: string } = {}): Promise<void> {
  await mkdir(workDir, { recursive: true });
  const path = join(workDir, 'capture.mp4');
  // prettier-ignore
  await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `color=c=${color}:size=${options.size ?? '320x240'}:rate=25`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-ac', '2', '-movflags', '+empty_moov+default_base_moof', '-frag_duration', '1000000', path]);
  if (options.keep) await truncate(path, Math.floor((await stat(path)).size * options.keep));
}
