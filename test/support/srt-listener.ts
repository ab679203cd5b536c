/**
 * A real SRT peer for tests: ffmpeg as an SRT listener on a free loopback UDP port, copying whatever
 * one caller sends into an MPEG-TS file, which the test can then ffprobe.
 */
import { createSocket } from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnSupervised } from '../../workers/process/processes.ts';

const HOST = '127.0.0.1';

export interface SrtListener {
  /** srt://127.0.0.1:<port>, to call. */
  url: string;
  /** The MPEG-TS file the listener writes. */
  file: string;
  /** Waits for the listener to finish its file, which it does when the caller hangs up; stops it after `timeoutMs`. */
  finished(timeoutMs: number): Promise<void>;
  /** Stops the listener and deletes its file. Safe to call twice. */
  close(): Promise<void>;
}

export async function startSrtListener(): Promise<SrtListener> {
  const dir = await mkdtemp(join(tmpdir(), 'srt-listener-'));
  const port = await freeUdpPort();
  const file = join(dir, 'received.ts');
  const ffmpeg = spawnSupervised(
    'ffmpeg-srt-listener',
    'ffmpeg',
    [
      '-hide_banner',
      '-nostdin',
      '-loglevel',
      'error',
      '-y',
      '-i',
      `srt://${HOST}:${port}?mode=listener`,
      '-map',
      '0',
      '-c',
      'copy',
      '-f',
      'mpegts',
      file,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let closed: Promise<void> | undefined;
  return {
    url: `srt://${HOST}:${port}`,
    file,
    finished: async (timeoutMs) => {
      const exit = await Promise.race([ffmpeg.exited, sleep(timeoutMs, undefined, { ref: false })]);
      if (!exit) await ffmpeg.kill();
    },
    close: () =>
      (closed ??= (async () => {
        await ffmpeg.kill();
        await rm(dir, { recursive: true, force: true });
      })()),
  };
}

/** A loopback UDP port nothing is bound to (at the moment of asking). */
function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, HOST, () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}
