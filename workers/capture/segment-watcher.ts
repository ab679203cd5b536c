/**
 * Announces each MPEG-TS segment ffmpeg's segment muxer closes. The muxer appends `name,start,end` (seconds
 * of the capture's timeline) to a CSV list as a segment ends, but just before it closes the file; it
 * opens the next segment right after. So a listed segment is reported once its successor exists (or, for
 * the last one, once ffmpeg has exited): by then the file is complete and never touched again.
 */
import { open, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Logger } from 'pino';
import { Poller } from './poller.ts';
import type { SegmentReport } from '../recording/recorder-contract.ts';

export interface SegmentWatcherOptions {
  /** The CSV list ffmpeg writes (`-segment_list … -segment_list_type csv`). */
  listPath: string;
  /** The directory the segments are in. */
  dir: string;
  /** The name ffmpeg gives segment `index`. */
  fileName: (index: number) => string;
  /** The number of ffmpeg's first segment (`segment_start_number`): a part after a takeover numbers on. */
  startNumber?: number;
  /** Unix ms of time zero of the capture's timeline. */
  timeZeroMs: () => number;
  onSegment: (segment: SegmentReport) => void;
  log: Logger;
  pollIntervalMs?: number;
}

export interface SegmentWatcher {
  /** Stops watching (ffmpeg failed); nothing more is reported. */
  stop(): Promise<void>;
  /**
   * After ffmpeg has exited: reports every segment not reported yet. `endedAtMs` (Unix ms the capture
   * ended) dates a last segment ffmpeg could not list because it was killed.
   */
  finish(endedAtMs: number): Promise<void>;
}

interface ListedSegment {
  name: string;
  startSec: number;
  endSec: number;
}

export function watchSegments(options: SegmentWatcherOptions): SegmentWatcher {
  const { dir, log } = options;
  const startNumber = options.startNumber ?? 0;
  /** Bytes of the list read so far, and a line not yet complete. */
  let offset = 0;
  let partial = '';
  const listed: ListedSegment[] = [];
  let reported = 0;
  let lastEndSec = 0;
  let endedAtMs: number | undefined;

  const report = async (segment: ListedSegment) => {
    const path = join(dir, basename(segment.name));
    const index = startNumber + reported++;
    lastEndSec = segment.endSec;
    const size = await stat(path).then(
      (s) => s.size,
      (err: unknown) => err as Error,
    );
    if (size instanceof Error) {
      // Gone from under ffmpeg (the directory removed?): the segments branch has failed, the rest goes on.
      log.warn({ err: size, path }, 'a listed segment is missing');
      return;
    }
    // The list has microseconds; the subtraction should not add float noise to them.
    const durationSec = Math.max(0, Math.round((segment.endSec - segment.startSec) * 1e6) / 1e6);
    try {
      options.onSegment({ path, index, startedAtMs: options.timeZeroMs() + Math.round(segment.startSec * 1000), durationSec, sizeBytes: size });
    } catch (err) {
      log.error({ err, path }, 'onSegment failed');
    }
  };

  const scan = async (final: boolean) => {
    const text = await readFrom(options.listPath, offset);
    offset += Buffer.byteLength(text);
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const segment = parseLine(line);
      if (segment) listed.push(segment);
      else if (line.trim()) log.warn({ line }, 'unexpected line in the segment list');
    }
    while (listed.length > 0) {
      // Its successor exists: ffmpeg has closed it.
      if (!final && !(await exists(join(dir, options.fileName(startNumber + reported + 1))))) return;
      await report(listed.shift()!);
    }
    if (final && endedAtMs !== undefined) {
      // ffmpeg killed before it could list its last segment: what it wrote still plays.
      const name = options.fileName(startNumber + reported);
      const size = await stat(join(dir, name)).then(
        (s) => s.size,
        () => 0,
      );
      if (size > 0) {
        const endSec = Math.max(lastEndSec, (endedAtMs - options.timeZeroMs()) / 1000);
        log.warn({ name }, 'the last segment was not listed; its duration is the capture end');
        await report({ name, startSec: lastEndSec, endSec });
      }
    }
  };

  const poller = new Poller(scan, log, options.pollIntervalMs);
  return {
    stop: () => poller.stop(),
    finish: (ended) => {
      endedAtMs = ended;
      return poller.finish();
    },
  };
}

/** `segment_00003.ts,12.023222,16.023222` (names never need CSV quoting: we choose them). */
function parseLine(line: string): ListedSegment | undefined {
  const match = /^(.+),(-?[\d.]+),(-?[\d.]+)$/.exec(line.trim());
  if (!match) return undefined;
  return { name: match[1]!, startSec: Number(match[2]), endSec: Number(match[3]) };
}

/** What the file holds past `offset`; '' while it does not exist yet. */
async function readFrom(path: string, offset: number): Promise<string> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
  try {
    const { size } = await handle.stat();
    if (size <= offset) return '';
    const buffer = Buffer.alloc(size - offset);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
