/** Large test files that are quick to make and whose bytes matter, and their checksums. */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';

const MiB = 1024 * 1024;

/**
 * Writes `sizeBytes` of random-looking content (one random MiB, each copy stamped with its index at both
 * ends, so a misplaced or repeated part changes the checksum) and returns its SHA-256.
 */
export async function writeTestFile(path: string, sizeBytes: number): Promise<string> {
  const block = randomBytes(MiB);
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  for (let offset = 0, index = 0; offset < sizeBytes; offset += MiB, index++) {
    const chunk = Buffer.from(block.subarray(0, Math.min(MiB, sizeBytes - offset)));
    if (chunk.length >= 4) {
      chunk.writeUInt32BE(index, 0);
      chunk.writeUInt32BE(index ^ 0x5a5a5a5a, chunk.length - 4);
    }
    hash.update(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return hash.digest('hex');
}

/** SHA-256 of a byte stream: a download, or a file (`createReadStream`). */
export async function sha256Of(stream: AsyncIterable<unknown>): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export const sha256OfFile = (path: string): Promise<string> => sha256Of(createReadStream(path));
