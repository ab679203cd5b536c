/**
 * (b) Web egress start latency: from sending StartWebEgress to the first captured frame (the ACTIVE
 * transition's started_at), through the whole service: queue, worker pick-up, Xvfb, Chromium, page load, ffmpeg.
 * Measured cold (warm_pool.size 0: every start launches its display, sink and browser) and warm (size 1: a
 * ready station is taken; before each start the bench waits until the pool has one again), in the same run.
 */
import { EgressStatus, EncodedFileOutput } from '@livekit/protocol';
import { EgressClient } from 'livekit-server-sdk';
import { waitForStatus } from '../test/support/egress-waits.ts';
import { E2E_API_KEY, E2E_API_SECRET, startService } from '../test/support/service.ts';
import { startTestPage, type TestPage } from '../test/support/test-page.ts';
import { fmt, summarize } from './stats.ts';

const RUNS = Number(process.env.BENCH_START_RUNS ?? 5);

async function startLatencies(page: TestPage, warmPoolSize: number): Promise<number[]> {
  const service = await startService({ logging: { level: 'error' }, warm_pool: { size: warmPoolSize } });
  try {
    const client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
    const pool = service.workers.ctx.warmPool;
    const latencies: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      // "When capacity is free": the previous recording is over and, warm, a station is ready.
      await pool?.ready();
      const sentAt = Date.now();
      const info = await client.startWebEgress(page.url, new EncodedFileOutput({ filepath: `bench/start-${warmPoolSize}-${i}.mp4` }));
      const active = await waitForStatus(client, info.egressId, [EgressStatus.EGRESS_ACTIVE], 60_000);
      latencies.push(Number(active.startedAt / 1_000_000n) - sentAt);
      await client.stopEgress(info.egressId);
      await waitForStatus(client, info.egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 60_000);
    }
    return latencies;
  } finally {
    await service.stop();
  }
}

export async function benchWebStartLatency(): Promise<string[]> {
  const page = await startTestPage();
  try {
    const cold = await startLatencies(page, 0);
    const warm = await startLatencies(page, 1);
    const line = (what: string, latencies: number[]) =>
      `    ${what}: p50 ${fmt(summarize(latencies).p50, 0)} ms, max ${fmt(Math.max(...latencies), 0)} ms (${latencies.map((ms) => fmt(ms, 0)).join(', ')})`;
    return [
      `(b) Web egress start, RPC → first frame (ACTIVE), 1280x720 page with sound, ${RUNS} starts each:`,
      line('cold (warm_pool.size 0)', cold),
      line('warm (warm_pool.size 1)', warm),
      `    warm / cold p50: ${fmt(summarize(warm).p50 / summarize(cold).p50, 2)}`,
    ];
  } finally {
    await page.close();
  }
}
