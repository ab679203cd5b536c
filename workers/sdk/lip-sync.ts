/**
 * Lip sync for the SDK path. rtc-node hands over decoded frames and PCM as they leave WebRTC, with no
 * capture timestamps on the audio, and libwebrtc does not synchronise a participant's audio and video
 * here because LiveKit sends each track in a stream of its own. Audio waits in NetEq's jitter buffer far
 * longer than video waits in its own (measured: 30 vs 13 ms on an idle host, 100 vs 20 ms on a busy one),
 * so the sound of a moment reaches the recorder after its picture.
 *
 * This does what libwebrtc's stream synchronisation would: it reads both jitter-buffer delays from the
 * receiver's statistics (inbound-rtp jitterBufferDelay / jitterBufferEmittedCount, over the last period)
 * and holds the video back by the difference, through the frame pacer. The hold moves smoothly, so a
 * change costs a repeated or skipped frame, never a jump.
 */
import type { Room } from '@livekit/rtc-node';
import type { Logger } from 'pino';
import { MAX_HOLD_MS, type FramePacer } from './frame-pacer.ts';

const PERIOD_MS = 1000;
/** How far the hold follows a new measurement at each period (exponential smoothing). */
const FOLLOW = 0.5;

type SessionStats = Awaited<ReturnType<Room['getRtcStats']>>;
type Kind = 'audio' | 'video';

/** Jitter-buffer delay of each kind over the last period, ms: the largest among the streams that played. */
export type ReceiveDelays = Partial<Record<Kind, number>>;

/** Totals per inbound stream, as the statistics report them (cumulative since the stream began). */
type Totals = Map<string, { delaySec: number; emitted: number }>;

/** The delays over the period since `previous` (updated in place to now's totals). */
export function receiveDelays(stats: SessionStats, previous: Totals): ReceiveDelays {
  const delays: ReceiveDelays = {};
  for (const entry of [...stats.publisherStats, ...stats.subscriberStats]) {
    if (entry.stats.case !== 'inboundRtp') continue;
    const { rtc, stream, inbound } = entry.stats.value;
    const kind = stream?.kind;
    if ((kind !== 'audio' && kind !== 'video') || !rtc?.id || !inbound) continue;
    const now = { delaySec: inbound.jitterBufferDelay ?? 0, emitted: Number(inbound.jitterBufferEmittedCount ?? 0n) };
    const before = previous.get(rtc.id);
    previous.set(rtc.id, now);
    if (!before || now.emitted <= before.emitted) continue;
    const ms = ((now.delaySec - before.delaySec) / (now.emitted - before.emitted)) * 1000;
    delays[kind] = Math.max(delays[kind] ?? 0, ms);
  }
  return delays;
}

export interface LipSync {
  /** The video hold now, and its range so far, ms. */
  readonly stats: { holdMs: number; minMs: number; maxMs: number };
  stop(): void;
}

/** Keeps the pacer's video hold at the audio's extra receive delay until stopped. */
export function startLipSync(room: Room, pacer: FramePacer, log: Logger): LipSync {
  const totals: Totals = new Map();
  const stats = { holdMs: 0, minMs: Infinity, maxMs: 0 };
  let stopped = false;
  let polling = false;
  const poll = async () => {
    if (polling || stopped) return;
    polling = true;
    try {
      const { audio, video } = receiveDelays(await room.getRtcStats(), totals);
      if (stopped || audio === undefined || video === undefined) return;
      const target = Math.min(MAX_HOLD_MS, Math.max(0, audio - video));
      stats.holdMs = Math.round(stats.holdMs + (target - stats.holdMs) * FOLLOW);
      stats.minMs = Math.min(stats.minMs, stats.holdMs);
      stats.maxMs = Math.max(stats.maxMs, stats.holdMs);
      pacer.holdBack(stats.holdMs);
      log.debug({ audioDelayMs: Math.round(audio), videoDelayMs: Math.round(video), holdMs: stats.holdMs }, 'lip sync');
    } catch (err) {
      // Statistics are best effort: the recording goes on with the hold it has.
      log.debug({ err }, 'no receive statistics');
    } finally {
      polling = false;
    }
  };
  const timer = setInterval(() => void poll(), PERIOD_MS);
  return {
    stats,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
