/**
 * What passthrough needs to know about each codec a LiveKit track can carry: the container it goes in,
 * how its RTP frames become container samples (werift's depacketizers), keyframes, the codec string and
 * decoder config the muxer wants, and (Opus) filler packets for gaps.
 */
import { dePacketizeRtpPackets, type RtpPacket } from 'werift';
import type { FileType } from '../../shared/egress-plan.ts';
import { fileTypeOfTrackCodec } from '../../shared/encoding.ts';

export type PassthroughCodec = 'avc' | 'vp8' | 'vp9' | 'opus';

export interface CodecInfo {
  codec: PassthroughCodec;
  kind: 'audio' | 'video';
  fileType: FileType;
  clockRate: number;
}

/** A Map: the MIME type is the publisher's (`constructor` is no codec). */
const PASSTHROUGH_CODEC: ReadonlyMap<string, PassthroughCodec> = new Map<string, PassthroughCodec>([
  ['video/h264', 'avc'],
  ['video/vp8', 'vp8'],
  ['video/vp9', 'vp9'],
  ['audio/opus', 'opus'],
]);

/** The passthrough codec of a negotiated MIME type, or undefined (PCMU, PCMA: transcoded, see g711Law; AV1, H.265: not supported). */
export function codecInfo(mimeType: string, clockRate: number): CodecInfo | undefined {
  const fileType = fileTypeOfTrackCodec(mimeType);
  const codec = PASSTHROUGH_CODEC.get(mimeType.toLowerCase());
  if (!fileType || !codec) return undefined;
  return { codec, kind: codec === 'opus' ? 'audio' : 'video', fileType, clockRate };
}

const DEPACKETIZER = { avc: 'MPEG4/ISO/AVC', vp8: 'VP8', vp9: 'VP9', opus: 'OPUS' } as const;

export interface Sample {
  /** H.264: Annex-B access unit; VP8/VP9: one frame; Opus: one packet. */
  data: Uint8Array;
  keyframe: boolean;
}

export function depacketize(codec: PassthroughCodec, packets: RtpPacket[]): Sample {
  const { data, isKeyframe } = dePacketizeRtpPackets(DEPACKETIZER[codec], packets);
  // werift flags every VP9 frame a keyframe: read the payload descriptor's P bit (inter-picture predicted).
  const keyframe = codec === 'vp9' ? (packets[0]!.payload[0]! & 0x40) === 0 : codec === 'opus' ? true : isKeyframe;
  return { data, keyframe };
}

/** The NAL units of an Annex-B access unit. */
function* nalUnits(au: Uint8Array): Generator<Uint8Array> {
  let start = -1;
  for (let i = 0; i + 2 < au.length; i++) {
    if (au[i] === 0 && au[i + 1] === 0 && au[i + 2] === 1) {
      if (start >= 0) yield au.subarray(start, au[i - 1] === 0 ? i - 1 : i);
      start = i + 3;
      i += 2;
    }
  }
  if (start >= 0 && start < au.length) yield au.subarray(start);
}

/** A keyframe's codec string and coded size, from the bitstream itself (not from what was signalled). */
export function describeKeyframe(codec: PassthroughCodec, data: Uint8Array): { codecString: string; width?: number; height?: number } {
  switch (codec) {
    case 'avc': {
      for (const nal of nalUnits(data)) {
        if ((nal[0]! & 0x1f) !== 7 || nal.length < 4) continue;
        const hex = (n: number) => n.toString(16).padStart(2, '0');
        return { codecString: `avc1.${hex(nal[1]!)}${hex(nal[2]!)}${hex(nal[3]!)}`, ...spsSize(nal) };
      }
      return { codecString: 'avc1.42e01f' };
    }
    case 'vp8':
      // Key frame header: 3-byte tag, start code 9d 01 2a, then 14-bit width and height.
      if (data.length >= 10 && data[3] === 0x9d && data[4] === 0x01 && data[5] === 0x2a) {
        return { codecString: 'vp8', width: (data[6]! | (data[7]! << 8)) & 0x3fff, height: (data[8]! | (data[9]! << 8)) & 0x3fff };
      }
      return { codecString: 'vp8' };
    case 'vp9':
      return { codecString: 'vp09.00.10.08' };
    case 'opus':
      return { codecString: 'opus' };
  }
}

/** Width and height from an H.264 SPS (RBSP with emulation prevention removed, exp-Golomb fields). */
function spsSize(nal: Uint8Array): { width?: number; height?: number } {
  const rbsp: number[] = [];
  for (let i = 1; i < nal.length; i++) {
    if (i >= 3 && nal[i] === 3 && nal[i - 1] === 0 && nal[i - 2] === 0) continue;
    rbsp.push(nal[i]!);
  }
  let bit = 0;
  const read = (n: number) => {
    let v = 0;
    for (let k = 0; k < n; k++, bit++) v = (v << 1) | ((rbsp[bit >> 3]! >> (7 - (bit & 7))) & 1);
    return v;
  };
  const ue = () => {
    let zeros = 0;
    while (read(1) === 0 && zeros < 32) zeros++;
    return (1 << zeros) - 1 + read(zeros);
  };
  const se = () => {
    const v = ue();
    return v & 1 ? (v + 1) / 2 : -v / 2;
  };
  try {
    const profile = read(8);
    read(16); // constraint flags, level
    ue(); // sps id
    let chromaFormat = 1;
    if ([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].includes(profile)) {
      chromaFormat = ue();
      if (chromaFormat === 3) read(1);
      ue();
      ue();
      read(1);
      if (read(1)) {
        for (let i = 0; i < (chromaFormat !== 3 ? 8 : 12); i++) {
          if (!read(1)) continue;
          let last = 8;
          let next = 8;
          for (let j = 0; j < (i < 6 ? 16 : 64); j++) {
            if (next !== 0) next = (last + se() + 256) % 256;
            last = next === 0 ? last : next;
          }
        }
      }
    }
    ue(); // log2_max_frame_num
    const pocType = ue();
    if (pocType === 0) ue();
    else if (pocType === 1) {
      read(1);
      se();
      se();
      const n = ue();
      for (let i = 0; i < n; i++) se();
    }
    ue(); // max_num_ref_frames
    read(1);
    const widthMbs = ue() + 1;
    const heightMapUnits = ue() + 1;
    const frameMbsOnly = read(1);
    if (!frameMbsOnly) read(1);
    read(1);
    let [cropLeft, cropRight, cropTop, cropBottom] = [0, 0, 0, 0];
    if (read(1)) [cropLeft, cropRight, cropTop, cropBottom] = [ue(), ue(), ue(), ue()];
    const cropUnitX = chromaFormat === 0 || chromaFormat === 3 ? 1 : 2;
    const cropUnitY = (chromaFormat === 1 ? 2 : 1) * (2 - frameMbsOnly);
    return {
      width: widthMbs * 16 - cropUnitX * (cropLeft + cropRight),
      height: (2 - frameMbsOnly) * heightMapUnits * 16 - cropUnitY * (cropTop + cropBottom),
    };
  } catch {
    return {};
  }
}

/** The 19-byte `OpusHead` an Ogg Opus stream starts with (RFC 7845 §5.1): mapping family 0, pre-skip 312. */
export function opusHead(channels: 1 | 2): Uint8Array {
  const head = Buffer.alloc(19);
  head.write('OpusHead', 0, 'ascii');
  head[8] = 1;
  head[9] = channels;
  head.writeUInt16LE(312, 10);
  head.writeUInt32LE(48_000, 12);
  return head;
}

/** Samples (at 48 kHz) one Opus packet decodes to, from its TOC (RFC 6716 §3.1). */
export function opusPacketSamples(packet: Uint8Array): number {
  if (packet.length === 0) return 960;
  const toc = packet[0]!;
  const config = toc >> 3;
  const frameSamples = config < 12 ? [480, 960, 1920, 2880][config & 3]! : config < 16 ? [480, 960][config & 1]! : [120, 240, 480, 960][config & 3]!;
  const code = toc & 3;
  const frames = code === 0 ? 1 : code === 3 ? (packet[1] ?? 0) & 0x3f : 2;
  return frameSamples * frames;
}

/**
 * A packet standing in for lost audio: the previous packet's TOC (same mode, bandwidth, frame size and
 * channels), one frame of zero bytes, which decoders treat as lost and conceal (RFC 6716 §3.2.1).
 */
export function opusFiller(previous: Uint8Array): Uint8Array {
  return Uint8Array.of((previous[0] ?? 0xf8) & 0xfc);
}

/** G.711 (PCMU μ-law, PCMA A-law): 8 kHz mono, one byte a sample; not remuxed but decoded and encoded to Opus. */
export type G711Law = 'pcmu' | 'pcma';

/** The G.711 law of a negotiated MIME type, or undefined. */
export function g711Law(mimeType: string): G711Law | undefined {
  const name = mimeType.toLowerCase();
  return name === 'audio/pcmu' ? 'pcmu' : name === 'audio/pcma' ? 'pcma' : undefined;
}

/** μ-law byte → 16-bit linear sample (ITU-T G.711, as Sun's g711.c decodes it). */
function ulawToLinear(byte: number): number {
  const u = ~byte & 0xff;
  const magnitude = ((((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4)) - 0x84;
  return u & 0x80 ? -magnitude : magnitude;
}

/** A-law byte → 16-bit linear sample (ITU-T G.711, as Sun's g711.c decodes it). */
function alawToLinear(byte: number): number {
  const a = byte ^ 0x55;
  const segment = (a & 0x70) >> 4;
  let magnitude = (a & 0x0f) << 4;
  if (segment === 0) magnitude += 8;
  else magnitude = (magnitude + 0x108) << (segment - 1);
  return a & 0x80 ? magnitude : -magnitude;
}

const G711_TABLES: Record<G711Law, Int16Array> = {
  pcmu: Int16Array.from({ length: 256 }, (_, i) => ulawToLinear(i)),
  pcma: Int16Array.from({ length: 256 }, (_, i) => alawToLinear(i)),
};

/** G.711 payload → 16-bit linear samples (8 kHz mono), one for each byte. */
export function decodeG711(law: G711Law, payload: Uint8Array): Int16Array {
  const table = G711_TABLES[law];
  const out = new Int16Array(payload.length);
  for (let i = 0; i < payload.length; i++) out[i] = table[payload[i]!]!;
  return out;
}

/** 16-bit linear sample → μ-law byte (for test publishers and round trips). */
export function linearToUlaw(sample: number): number {
  const BIAS = 0x84;
  let s = Math.max(-32635, Math.min(32635, Math.round(sample)));
  const sign = s < 0 ? 0x80 : 0;
  if (s < 0) s = -s;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** 16-bit linear sample → A-law byte (for test publishers and round trips). */
export function linearToAlaw(sample: number): number {
  let s = Math.max(-32768, Math.min(32767, Math.round(sample))) >> 3;
  let mask;
  if (s >= 0) mask = 0xd5;
  else {
    mask = 0x55;
    s = -s - 1;
  }
  const ends = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];
  const segment = ends.findIndex((end) => s <= end);
  if (segment < 0) return 0x7f ^ mask;
  const value = (segment << 4) | ((s >> (segment < 2 ? 1 : segment)) & 0x0f);
  return value ^ mask;
}
