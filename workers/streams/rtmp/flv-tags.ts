/**
 * FLV from ffmpeg's stdout, cut into tags: each becomes one RTMP message (audio 8, video 9, script data 18)
 * with the tag's timestamp. The file header and the back-pointers between tags are dropped.
 */

export interface FlvTag {
  typeId: number;
  timestamp: number;
  data: Buffer;
}

const HEADER_BYTES = 9;
const TAG_HEADER_BYTES = 11;
const BACK_POINTER_BYTES = 4;

export class FlvError extends Error {
  override name = 'FlvError';
}

export class FlvTagReader {
  #pending: Buffer = Buffer.alloc(0);
  #headerRead = false;

  push(chunk: Buffer): FlvTag[] {
    this.#pending = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    const tags: FlvTag[] = [];
    let at = 0;
    const data = this.#pending;
    if (!this.#headerRead) {
      if (data.length < HEADER_BYTES + BACK_POINTER_BYTES) return tags;
      if (data.toString('latin1', 0, 3) !== 'FLV') throw new FlvError('ffmpeg did not write FLV');
      at = data.readUInt32BE(5) + BACK_POINTER_BYTES;
      this.#headerRead = true;
    }
    while (data.length - at >= TAG_HEADER_BYTES) {
      const size = data.readUIntBE(at + 1, 3);
      const end = at + TAG_HEADER_BYTES + size + BACK_POINTER_BYTES;
      if (data.length < end) break;
      const timestamp = (data[at + 7]! << 24) | data.readUIntBE(at + 4, 3);
      tags.push({
        typeId: data[at]! & 0x1f,
        timestamp: timestamp >>> 0,
        data: Buffer.from(data.subarray(at + TAG_HEADER_BYTES, at + TAG_HEADER_BYTES + size)),
      });
      at = end;
    }
    this.#pending = data.subarray(at);
    return tags;
  }
}
