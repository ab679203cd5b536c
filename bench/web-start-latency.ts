/**
 * (b) Web egress start latency: from sending StartWebEgress to the first captured frame (the ACTIVE
 * transition's started_at), through the whole service: queue, worker pick-up, Xvfb, Chromium, page load, ffmpeg.
 */
import { EgressStatus, EncodedFileOutput } from '@livekit/protocol';
import { EgressClient } from 'livekit-server-sdk';
import { waitForStatus } from '../test/support/egress-waits.ts';
import { E2E_API_KEY, E2E_API_SECRET, startService } from '../test/support/service.ts';
import { startTestPage } from '../test/support/test-page.ts';
import { fmt, summarize } from './stats.ts';

const RUNS = Number(process.env.BENCH_START_RUNS ?? 5);

export async function benchWebStartLatency(): Promise<string[]> {
  const page = await startTestPage();
  const service = await startService({ logging: { level: 'error' } });
  try {
    const client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
    const latencies: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const sentAt = Date.now();
      const info = await client.startWebEgress(page.url, new EncodedFileOutput({ filepath: `bench/start-${i}.mp4` }));
      const active = await waitForStatus(client, info.egressId, [EgressStatus.EGRESS_ACTIVE], 60_000);
      latencies.push(Number(active.startedAt / 1_000_000n) - sentAt);
      await client.stopEgress(info.egressId);
      await waitForStatus(client, info.egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 60_000);
    }
    const s = summarize(latencies);
    return [`(b) Web egress start, RPC → first frame (ACTIVE), ${RUNS} cold starts: p50 ${fmt(s.p50, 0)} ms, max ${fmt(Math.max(...latencies), 0)} ms`];
  } finally {
    await service.stop();
    await page.close();
  }
}
