/**
 * The parts of the SDK path's lip sync: the jitter-buffer delays read from receive statistics (per kind,
 * over the last period, streams that did not play ignored), and the frame pacer holding frames back.
 */
import type { Room } from '@livekit/rtc-node';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import pino from 'pino';
import type { EncodingPlan } from '../../../shared/egress-plan.ts';
import { FramePacer } from '../../../workers/sdk/frame-pacer.ts';
import { receiveDelays } from '../../../workers/sdk/lip-sync.ts';

type SessionStats = Awaited<ReturnType<Room['getRtcStats']>>;

/** Statistics as rtc-node reports them: inbound-rtp entries (cumulative jitter-buffer totals) among others. */
function stats(streams: { id: string; kind: string; delaySec: number; emitted: number }[]): SessionStats {
  const inbound = streams.map(({ id, kind, delaySec, emitted }) => ({
    stats: {
      case: 'inboundRtp',
      value: { rtc: { id }, stream: { kind }, inbound: { jitterBufferDelay: delaySec, jitterBufferEmittedCount: BigInt(emitted) } },
    },
  }));
  return { publisherStats: [{ stats: { case: 'transport', value: {} } }, ...inbound], subscriberStats: [] } as unknown as SessionStats;
}

describe('receive delays', () => {
  test('per kind, over the period since the last reading, the largest of the streams that played', () => {
    const totals = new Map();
    // The first reading has nothing to compare with.
    assert.deepEqual(
      receiveDelays(
        stats([
          { id: 'a1', kind: 'audio', delaySec: 10, emitted: 480_000 },
          { id: 'v1', kind: 'video', delaySec: 1, emitted: 300 },
        ]),
        totals,
      ),
      {},
    );
    const delays = receiveDelays(
      stats([
        // 48,000 samples emitted in the period, having waited 4,800 s in all: 100 ms each.
        { id: 'a1', kind: 'audio', delaySec: 4810, emitted: 528_000 },
        // 30 frames, 0.6 s in all: 20 ms each.
        { id: 'v1', kind: 'video', delaySec: 1.6, emitted: 330 },
        // A stream seen for the first time, and so not counted yet.
        { id: 'v2', kind: 'video', delaySec: 9, emitted: 30 },
      ]),
      totals,
    );
    assert.equal(Math.round(delays.audio!), 100);
    assert.equal(Math.round(delays.video!), 20);
    // A stream that emitted nothing (unsubscribed, muted) says nothing about the delay.
    const next = receiveDelays(
      stats([
        { id: 'a1', kind: 'audio', delaySec: 4810, emitted: 528_000 },
        { id: 'v2', kind: 'video', delaySec: 9.3, emitted: 60 },
      ]),
      totals,
    );
    assert.equal(next.audio, undefined);
    assert.equal(Math.round(next.video!), 10);
  });
});

describe('frame pacer hold', () => {
  const encoding = { width: 16, height: 16, framerate: 50 } as EncodingPlan;
  const picture = (luma: number) => ({ data: new Uint8Array(16 * 16 * 1.5).fill(luma), width: 16, height: 16 });

  test('a frame shown is written only once the hold has passed; black until then', async () => {
    const pipe = new PassThrough();
    const written: { at: number; luma: number }[] = [];
    pipe.on('data', (chunk: Buffer) => {
      for (let i = 0; i < chunk.length; i += 384) written.push({ at: performance.now(), luma: chunk[i]! });
    });
    const pacer = new FramePacer(encoding, pino({ level: 'silent' }));
    pacer.start(pipe, performance.now());
    pacer.holdBack(200);
    await new Promise((r) => setTimeout(r, 100));
    const shownAt = performance.now();
    pacer.show(picture(200));
    await new Promise((r) => setTimeout(r, 400));
    pacer.stop();
    const first = written.find((w) => w.luma === 200);
    assert.ok(first, 'the frame was written');
    const heldMs = first.at - shownAt;
    assert.ok(heldMs >= 195 && heldMs < 300, `held ${heldMs.toFixed(0)} ms`);
    assert.ok(
      written.filter((w) => w.at < first.at).every((w) => w.luma === 16),
      'black before it',
    );
  });
});
