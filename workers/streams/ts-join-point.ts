const TS_PACKET_BYTES = 188;
const TS_SYNC_BYTE = 0x47;
const PAT_PID = 0;
/** PMT stream types of video: H.264, HEVC. */
const VIDEO_STREAM_TYPES = new Set([0x1b, 0x24]);

/**
 * Where a copy can join a running MPEG-TS: at the next keyframe (the packet starting a video PES with
 * random_access_indicator set, as ffmpeg's muxer marks keyframes; audio-only: the next audio frame),
 * with the current PAT and PMT put in front. ffmpeg's mpegts demuxer always analyses its whole
 * `-analyzeduration` before it starts; starting clean at a keyframe keeps that analysis short and
 * certain to find the codec headers, however long the GOP.
 */
export class TsJoinPoint {
  #carry = Buffer.alloc(0);
  #pat: Buffer | undefined;
  #pmt: Buffer | undefined;
  #pmtPid: number | undefined;
  #keyPid: number | undefined;

  /** The bytes to send from this chunk on, PAT and PMT first; undefined until the join point comes. */
  feed(chunk: Buffer): Buffer | undefined {
    const data = this.#carry.length > 0 ? Buffer.concat([this.#carry, chunk]) : chunk;
    let at = syncOffset(data, 0);
    while (at + TS_PACKET_BYTES <= data.length) {
      const packet = data.subarray(at, at + TS_PACKET_BYTES);
      if (packet[0] !== TS_SYNC_BYTE) {
        at = syncOffset(data, at + 1);
        continue;
      }
      const pid = ((packet[1]! & 0x1f) << 8) | packet[2]!;
      if (pid === PAT_PID) {
        this.#pat = Buffer.from(packet);
        this.#pmtPid = firstProgramPmtPid(packet);
      } else if (pid === this.#pmtPid) {
        this.#pmt = Buffer.from(packet);
        this.#keyPid = keyStreamPid(packet);
      } else if (pid === this.#keyPid && this.#pat && this.#pmt && startsRandomAccessUnit(packet)) {
        return Buffer.concat([this.#pat, this.#pmt, data.subarray(at)]);
      }
      at += TS_PACKET_BYTES;
    }
    // Less than a packet is left: it is completed by the next chunk.
    this.#carry = Buffer.from(data.subarray(at));
    return undefined;
  }
}

/**
 * The first offset from `from` where packets line up: sync bytes 188 apart, as far as the data goes
 * (a sink starts somewhere in the stream, not necessarily on a packet boundary).
 */
function syncOffset(data: Buffer, from: number): number {
  const aligned = (at: number) => [0, 1, 2].every((n) => at + n * TS_PACKET_BYTES >= data.length || data[at + n * TS_PACKET_BYTES] === TS_SYNC_BYTE);
  let at = from;
  while (at < data.length && !aligned(at)) at++;
  return at;
}

/** Where the PSI section of a packet starts (after the pointer field), if the packet starts one. */
function sectionStart(packet: Buffer): number | undefined {
  const payloadUnitStart = (packet[1]! & 0x40) !== 0;
  const adaptation = (packet[3]! >> 4) & 0x3;
  if (!payloadUnitStart || (adaptation & 0x1) === 0) return undefined;
  const payload = adaptation === 0x3 ? 5 + packet[4]! : 4;
  return payload + 1 + packet[payload]!;
}

/** Section length field: the bytes after it, CRC included. */
const sectionEnd = (packet: Buffer, table: number) =>
  Math.min(table + 3 + (((packet[table + 1]! & 0x0f) << 8) | packet[table + 2]!) - 4, packet.length);

/** PAT → the PMT PID of its first program. */
function firstProgramPmtPid(packet: Buffer): number | undefined {
  const table = sectionStart(packet);
  if (table === undefined) return undefined;
  for (let entry = table + 8; entry + 4 <= sectionEnd(packet, table); entry += 4) {
    const programNumber = (packet[entry]! << 8) | packet[entry + 1]!;
    if (programNumber !== 0) return ((packet[entry + 2]! & 0x1f) << 8) | packet[entry + 3]!;
  }
  return undefined;
}

/** PMT → the PID to join on: its video stream, else its first stream. */
function keyStreamPid(packet: Buffer): number | undefined {
  const table = sectionStart(packet);
  if (table === undefined) return undefined;
  const end = sectionEnd(packet, table);
  let first: number | undefined;
  let entry = table + 12 + (((packet[table + 10]! & 0x0f) << 8) | packet[table + 11]!);
  while (entry + 5 <= end) {
    const pid = ((packet[entry + 1]! & 0x1f) << 8) | packet[entry + 2]!;
    if (VIDEO_STREAM_TYPES.has(packet[entry]!)) return pid;
    first ??= pid;
    entry += 5 + (((packet[entry + 3]! & 0x0f) << 8) | packet[entry + 4]!);
  }
  return first;
}

/** The packet starts a PES and its adaptation field has random_access_indicator set. */
function startsRandomAccessUnit(packet: Buffer): boolean {
  const payloadUnitStart = (packet[1]! & 0x40) !== 0;
  const hasAdaptation = ((packet[3]! >> 4) & 0x2) !== 0;
  return payloadUnitStart && hasAdaptation && packet[4]! > 0 && (packet[5]! & 0x40) !== 0;
}
