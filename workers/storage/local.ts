/**
 * Local disk storage: the embedded default. A file is moved (or copied across file systems) into the
 * recordings directory, so unlike the other back-ends it is gone from its old place afterwards; its location
 * is its absolute path. Keys never leave the directory.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { localPathOf } from '../../shared/naming.ts';
import type { OnUploadProgress, StorageBackend } from './backend.ts';

export function createLocalBackend(directory: string): StorageBackend {
  return {
    name: 'local',
    uploadFile: (localPath, key, { onProgress }) => storeLocally(localPath, directory, key, onProgress ?? (() => undefined)),
    uploadText: (text, key) => storeTextLocally(text, directory, key),
  };
}

/** Delivers `localPath` to `<directory>/<key>`; returns the location and size. The source is gone afterwards. */
async function storeLocally(
  localPath: string,
  directory: string,
  key: string,
  progress: OnUploadProgress,
): Promise<{ location: string; sizeBytes: number }> {
  const target = localPathOf(directory, key);
  await mkdir(dirname(target), { recursive: true });
  const { size } = await stat(localPath);
  try {
    await rename(localPath, target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await copyWithProgress(localPath, target, size, progress);
    await unlink(localPath);
  }
  progress(size, size);
  return { location: target, sizeBytes: size };
}

async function copyWithProgress(from: string, to: string, total: number, progress: OnUploadProgress): Promise<void> {
  let sent = 0;
  let lastReport = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      sent += chunk.length;
      if (sent - lastReport >= 8 * 1024 * 1024) {
        lastReport = sent;
        progress(sent, total);
      }
      done(null, chunk);
    },
  });
  const partial = `${to}.partial`;
  await pipeline(createReadStream(from), meter, createWriteStream(partial));
  await rename(partial, to);
}

/** Writes `text` to `<directory>/<key>` (a playlist, a manifest); returns its location and size. */
async function storeTextLocally(text: string, directory: string, key: string): Promise<{ location: string; sizeBytes: number }> {
  const target = localPathOf(directory, key);
  await mkdir(dirname(target), { recursive: true });
  const partial = `${target}.partial`;
  await writeFile(partial, text);
  await rename(partial, target);
  return { location: target, sizeBytes: Buffer.byteLength(text) };
}
