/**
 * RTMP chunking (RTMP 1.0 §5.3): messages cut into chunks on chunk streams, and put back together from the
 * server's chunks. We write every message with a full (type 0) header: a few bytes more per message, and
 * nothing a server can get wrong about deltas. Chunk size is ours to set (Set Chunk Size) and the server's
 * to set for what it sends.
 */

export interface RtmpMessage {
  typeId: number;
  streamId: number;
  timestamp: number;
  payload: Buffer;
}

/** RTMP's default chunk size, until a Set Chunk Size says otherwise. */
export const DEFAULT_CHUNK_SIZE = 128;
const EXTENDED = 0xffffff;

function basicHeader(fmt: number, csid: number): Buffer {
  if (csid < 64) return Buffer.from([(fmt << 6) | csid]);
  if (csid < 320) return Buffer.from([fmt << 6, csid - 64]);
  const out = Buffer.from([(fmt << 6) | 1, 0, 0]);
  out.writeUInt16LE(csid - 64, 1);
  return out;
}

/** Chunks of one message on chunk stream `csid`, `chunkSize` payload bytes at most each. */
export function chunkMessage(csid: number, message: RtmpMessage, chunkSize: number): Buffer[] {
  const { typeId, streamId, payload } = message;
  const timestamp = message.timestamp >>> 0;
  const extended = timestamp >= EXTENDED;
  const header = Buffer.alloc(11);
  header.writeUIntBE(extended ? EXTENDED : timestamp, 0, 3);
  header.writeUIntBE(payload.length, 3, 3);
  header[6] = typeId;
  header.writeUInt32LE(streamId, 7);
  const extendedField = extended ? Buffer.alloc(4) : undefined;
  extendedField?.writeUInt32BE(timestamp, 0);
  const parts: Buffer[] = [basicHeader(0, csid), header];
  if (extendedField) parts.push(extendedField);
  for (let at = 0; at < payload.length || at === 0; at += chunkSize) {
    if (at > 0) {
      parts.push(basicHeader(3, csid));
      // Continuation chunks repeat the extended timestamp (as librtmp and ffmpeg write them).
      if (extendedField) parts.push(extendedField);
    }
    parts.push(payload.subarray(at, at + chunkSize));
    if (payload.length === 0) break;
  }
  return parts;
}

interface ChunkStream {
  timestamp: number;
  delta: number;
  length: number;
  typeId: number;
  streamId: number;
  extended: boolean;
  parts: Buffer[];
  received: number;
}

export class ChunkError extends Error {
  override name = 'ChunkError';
}

const SET_CHUNK_SIZE = 1;
const ABORT = 2;

/** Largest message accepted from a server: its commands and answers are small. */
const MAX_MESSAGE_BYTES = 1024 * 1024;

/** Reassembles the server's messages from whatever pieces the socket delivers; applies Set Chunk Size and Abort itself. */
export class ChunkReader {
  chunkSize = DEFAULT_CHUNK_SIZE;
  #pending: Buffer = Buffer.alloc(0);
  readonly #streams = new Map<number, ChunkStream>();

  /** Drops the partial message on a chunk stream (Abort Message). */
  abort(csid: number): void {
    const stream = this.#streams.get(csid);
    if (stream) {
      stream.parts = [];
      stream.received = 0;
    }
  }

  /** The messages completed by `data`. */
  push(data: Buffer): RtmpMessage[] {
    this.#pending = this.#pending.length ? Buffer.concat([this.#pending, data]) : data;
    const messages: RtmpMessage[] = [];
    for (;;) {
      const consumed = this.#readChunk(messages);
      if (consumed === 0) return messages;
      this.#pending = this.#pending.subarray(consumed);
    }
  }

  /** Reads one chunk off the front of #pending; 0 when it is not all there yet. */
  #readChunk(out: RtmpMessage[]): number {
    const data = this.#pending;
    if (data.length < 1) return 0;
    const fmt = data[0]! >> 6;
    let csid = data[0]! & 0x3f;
    let at = 1;
    if (csid === 0) {
      if (data.length < 2) return 0;
      csid = data[1]! + 64;
      at = 2;
    } else if (csid === 1) {
      if (data.length < 3) return 0;
      csid = data.readUInt16LE(1) + 64;
      at = 3;
    }
    const headerBytes = [11, 7, 3, 0][fmt]!;
    if (data.length < at + headerBytes) return 0;
    let stream = this.#streams.get(csid);
    if (!stream) {
      if (fmt !== 0) throw new ChunkError(`chunk stream ${csid} starts without a full header`);
      stream = { timestamp: 0, delta: 0, length: 0, typeId: 0, streamId: 0, extended: false, parts: [], received: 0 };
      this.#streams.set(csid, stream);
    }
    const starting = stream.received === 0;
    let time = 0;
    if (fmt <= 2) time = data.readUIntBE(at, 3);
    if (fmt <= 1) {
      stream.length = data.readUIntBE(at + 3, 3);
      stream.typeId = data[at + 6]!;
      if (stream.length > MAX_MESSAGE_BYTES) throw new ChunkError(`message of ${stream.length} bytes`);
    }
    if (fmt === 0) stream.streamId = data.readUInt32LE(at + 7);
    at += headerBytes;
    if (fmt <= 2) stream.extended = time === EXTENDED;
    if (stream.extended) {
      if (data.length < at + 4) return 0;
      if (fmt <= 2) time = data.readUInt32BE(at);
      at += 4;
    }
    const take = Math.min(this.chunkSize, stream.length - stream.received);
    if (data.length < at + take) return 0;
    if (starting) {
      if (fmt === 0) stream.timestamp = time;
      else if (fmt <= 2) {
        stream.delta = time;
        stream.timestamp += time;
      } else stream.timestamp += stream.delta;
    }
    stream.parts.push(Buffer.from(data.subarray(at, at + take)));
    stream.received += take;
    if (stream.received >= stream.length) {
      const message = { typeId: stream.typeId, streamId: stream.streamId, timestamp: stream.timestamp >>> 0, payload: Buffer.concat(stream.parts) };
      stream.parts = [];
      stream.received = 0;
      // Chunking control takes effect from the very next chunk, which may be in this same read.
      if (message.typeId === SET_CHUNK_SIZE && message.payload.length >= 4)
        this.chunkSize = Math.max(1, message.payload.readUInt32BE(0) & 0x7fffffff);
      if (message.typeId === ABORT && message.payload.length >= 4) this.abort(message.payload.readUInt32BE(0));
      out.push(message);
    }
    return at + take;
  }
}
