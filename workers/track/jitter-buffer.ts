/**
 * Puts RTP back in order and groups it into frames. Packets are keyed by their unwrapped (extended)
 * sequence number; a video frame is complete when its packets are contiguous up to the marker bit (or
 * the next timestamp), an audio packet is a frame of its own. A hole that retransmission has not filled
 * within `latencyMs` is given up: the frames it touches are dropped and `onLoss` says so (video then
 * waits for a keyframe). Timestamps come out unwrapped too, so a long recording never wraps.
 */
import type { RtpPacket } from 'werift';

export interface RtpFrame {
  /** Unwrapped RTP timestamp. */
  timestamp: number;
  packets: RtpPacket[];
}

export interface JitterBufferOptions {
  /** Audio: each packet is a frame. Video: frames end at the marker bit. */
  kind: 'audio' | 'video';
  /** How long to wait for a missing packet before giving it up. */
  latencyMs: number;
  onFrame: (frame: RtpFrame) => void;
  /** Packets were given up; `lostPackets` of them. */
  onLoss: (lostPackets: number) => void;
}

interface Held {
  packet: RtpPacket;
  timestamp: number;
  arrivedAt: number;
}

/** Unwraps a 16- or 32-bit counter against the highest value seen so far. */
export class Unwrapper {
  private readonly range: number;
  private highest?: number;

  constructor(bits: 16 | 32) {
    this.range = 2 ** bits;
  }

  unwrap(value: number): number {
    if (this.highest === undefined) {
      this.highest = value;
      return value;
    }
    const half = this.range / 2;
    const base = this.highest - (this.highest % this.range);
    let candidate = base + value;
    if (candidate - this.highest > half) candidate -= this.range;
    else if (this.highest - candidate > half) candidate += this.range;
    if (candidate > this.highest) this.highest = candidate;
    return candidate;
  }
}

/** At most this many packets are held; beyond it the oldest hole is given up at once. */
const MAX_HELD = 2000;

export class JitterBuffer {
  private readonly options: JitterBufferOptions;
  private readonly held = new Map<number, Held>();
  private readonly seq = new Unwrapper(16);
  private readonly ts = new Unwrapper(32);
  /** The extended sequence number of the next packet to hand on. */
  private next?: number;
  /** After a loss: the next frame starts at the first packet whose timestamp differs from this one's. */
  private resyncAfter?: number;

  constructor(options: JitterBufferOptions) {
    this.options = options;
  }

  push(packet: RtpPacket, now = Date.now()): void {
    const seq = this.seq.unwrap(packet.header.sequenceNumber);
    const timestamp = this.ts.unwrap(packet.header.timestamp);
    if (this.next === undefined) this.next = seq;
    if (seq < this.next || this.held.has(seq)) return; // late or duplicate
    this.held.set(seq, { packet, timestamp, arrivedAt: now });
    this.drain(now);
  }

  /** Gives up holes older than the latency; call periodically. */
  tick(now = Date.now()): void {
    this.drain(now);
  }

  /** Hands on every complete frame still held (the end of the recording). */
  flush(): void {
    this.drain(Infinity);
    this.held.clear();
  }

  private drain(now: number): void {
    for (;;) {
      if (this.emitReady()) continue;
      if (!this.giveUpHole(now)) return;
    }
  }

  /** Emits the frame starting at `next` if it is complete. */
  private emitReady(): boolean {
    const next = this.next;
    if (next === undefined) return false;
    const first = this.held.get(next);
    if (!first) return false;
    if (this.resyncAfter !== undefined) {
      // The frame this packet belongs to may have lost its beginning: skip to the next timestamp.
      if (first.timestamp === this.resyncAfter) {
        this.held.delete(next);
        this.next = next + 1;
        return true;
      }
      this.resyncAfter = undefined;
    }
    if (this.options.kind === 'audio') {
      this.held.delete(next);
      this.next = next + 1;
      this.options.onFrame({ timestamp: first.timestamp, packets: [first.packet] });
      return true;
    }
    const packets: RtpPacket[] = [first.packet];
    let end = next;
    if (!first.packet.header.marker) {
      for (;;) {
        const candidate = this.held.get(end + 1);
        if (!candidate) return false; // wait for it
        if (candidate.timestamp !== first.timestamp) break; // marker lost in the stream itself: the frame ended
        packets.push(candidate.packet);
        end += 1;
        if (candidate.packet.header.marker) break;
      }
    }
    for (let s = next; s <= end; s++) this.held.delete(s);
    this.next = end + 1;
    this.options.onFrame({ timestamp: first.timestamp, packets });
    return true;
  }

  /** A hole at `next` waited longer than the latency (or too much is held): jump over it. */
  private giveUpHole(now: number): boolean {
    if (this.held.size === 0 || this.next === undefined) return false;
    let oldest = Infinity;
    let lowest = Infinity;
    for (const [seq, entry] of this.held) {
      if (seq < lowest) lowest = seq;
      if (entry.arrivedAt < oldest) oldest = entry.arrivedAt;
    }
    if (this.held.size < MAX_HELD && now - oldest < this.options.latencyMs) return false;
    if (lowest === this.next) {
      // Nothing missing before it, but its frame never completed (its tail was lost): drop that frame.
      const { timestamp } = this.held.get(lowest)!;
      this.resyncAfter = timestamp;
      this.options.onLoss(0);
      return true;
    }
    const lost = lowest - this.next;
    const lowestEntry = this.held.get(lowest)!;
    this.next = lowest;
    if (this.options.kind === 'video') this.resyncAfter = lowestEntry.timestamp;
    this.options.onLoss(lost);
    return true;
  }
}
