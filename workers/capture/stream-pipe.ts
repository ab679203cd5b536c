/**
 * The encode's MPEG-TS, read from ffmpeg's pipe and handed on as a Readable that never holds ffmpeg back:
 * the pipe is always drained (a full pipe would block ffmpeg, and with it the file and every other
 * output), and what a consumer leaves unread past a bound is dropped, in whole 188-byte TS packets so
 * that what it does get stays parseable.
 */
import { Readable } from 'node:stream';
import type { Logger } from 'pino';

/** About 40 s of a 6 Mbps encode: a consumer that is this far behind has stalled. */
export const MAX_UNREAD_BYTES = 32 * 1024 * 1024;
const TS_PACKET_BYTES = 188;

export function streamFromPipe(pipe: Readable, log: Logger, maxUnreadBytes = MAX_UNREAD_BYTES): Readable {
  const ts = new Readable({ read() {} });
  let ended = false;
  /** Where in a TS packet the next byte falls (chunks do not follow packet bounds), and that packet's fate. */
  let packetOffset = 0;
  let keepPacket = true;
  let droppedBytes = 0;
  const end = () => {
    if (ended) return;
    ended = true;
    if (droppedBytes > 0) log.warn({ droppedBytes }, 'the stream consumer fell behind; MPEG-TS was dropped');
    ts.push(null);
  };
  pipe.on('data', (chunk: Buffer) => {
    if (ended || ts.destroyed) return;
    if (keepPacket && ts.readableLength + chunk.length <= maxUnreadBytes) {
      packetOffset = (packetOffset + chunk.length) % TS_PACKET_BYTES;
      ts.push(chunk);
      return;
    }
    // Over the bound: each packet is kept or dropped whole, decided where it starts.
    for (let at = 0; at < chunk.length;) {
      if (packetOffset === 0) {
        keepPacket = ts.readableLength + TS_PACKET_BYTES <= maxUnreadBytes;
        if (!keepPacket && droppedBytes === 0) log.warn({ maxUnreadBytes }, 'the stream consumer is not reading; dropping MPEG-TS');
      }
      const length = Math.min(TS_PACKET_BYTES - packetOffset, chunk.length - at);
      if (keepPacket) ts.push(chunk.subarray(at, at + length));
      else droppedBytes += length;
      at += length;
      packetOffset = (packetOffset + length) % TS_PACKET_BYTES;
    }
  });
  pipe.once('end', end);
  pipe.once('close', end);
  pipe.once('error', (err) => {
    log.warn({ err }, 'reading the MPEG-TS pipe failed');
    end();
  });
  return ts;
}
