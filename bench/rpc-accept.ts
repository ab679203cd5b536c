/**
 * (a) Start RPC accept latency and throughput: StartWebEgress through the HTTP API (auth, decode,
 * validate, store, queue) against the baseline of a raw BullMQ `Queue.add` on the same Redis, same run.
 */
import { EncodedFileOutput, WebEgressRequest } from '@livekit/protocol';
import { Queue } from 'bullmq';
import { AccessToken } from 'livekit-server-sdk';
import { bullConnection, bullPrefix } from '../shared/queues.ts';
import { E2E_API_KEY, E2E_API_SECRET, startService } from '../test/support/service.ts';
import { fmt, summarize } from './stats.ts';

const REQUESTS = Number(process.env.BENCH_RPC_REQUESTS ?? 2000);
const CONCURRENCY = 16;

async function timed(n: number, concurrency: number, one: (i: number) => Promise<void>): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const s = performance.now();
        await one(i);
        latencies.push(performance.now() - s);
      }
    }),
  );
  return { latencies, seconds: (performance.now() - t0) / 1000 };
}

export async function benchRpcAccept(): Promise<string[]> {
  // No recording pool: requests are accepted and queued, which is what this measures.
  // The per-key Start limit (600 a minute) would refuse most of the run: this measures the path, not the limit.
  const service = await startService({ pools: ['webhook'], start_deadline: 3600, logging: { level: 'error' }, rate_limits: { start_per_minute: 0 } });
  try {
    const at = new AccessToken(E2E_API_KEY, E2E_API_SECRET, { ttl: 3600 });
    at.addGrant({ roomRecord: true });
    const auth = `Bearer ${await at.toJwt()}`;
    // An address, not a name: the figure is the service's own cost, not this machine's resolver's.
    const body = new WebEgressRequest({
      url: 'http://127.0.0.1:9/dashboard',
      fileOutputs: [new EncodedFileOutput({ filepath: 'bench.mp4' })],
    }).toJsonString();
    const rpc = async () => {
      const res = await fetch(`${service.url}/twirp/livekit.Egress/StartWebEgress`, {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body,
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
      await res.arrayBuffer();
    };
    await timed(100, CONCURRENCY, rpc); // warm-up
    const api = await timed(REQUESTS, CONCURRENCY, rpc);

    const queue = new Queue('bench-baseline', { connection: bullConnection(service.config), prefix: bullPrefix(service.config) });
    const data = JSON.parse(body) as Record<string, unknown>;
    await timed(100, CONCURRENCY, async (i) => void (await queue.add('web', data, { jobId: `warm-${i}` })));
    const raw = await timed(REQUESTS, CONCURRENCY, async (i) => void (await queue.add('web', data, { jobId: `j-${i}` })));
    await queue.close();

    const a = summarize(api.latencies);
    const b = summarize(raw.latencies);
    return [
      `(a) Start RPC accept, ${REQUESTS} requests, ${CONCURRENCY} in flight`,
      `    StartWebEgress over HTTP : p50 ${fmt(a.p50)} ms  p99 ${fmt(a.p99)} ms  ${fmt(REQUESTS / api.seconds, 0)} req/s`,
      `    raw BullMQ Queue.add     : p50 ${fmt(b.p50)} ms  p99 ${fmt(b.p99)} ms  ${fmt(REQUESTS / raw.seconds, 0)} adds/s`,
      `    ratio (API / raw add)    : p50 ×${fmt(a.p50 / b.p50)}  p99 ×${fmt(a.p99 / b.p99)}  throughput ×${fmt(raw.seconds / api.seconds)}`,
    ];
  } finally {
    await service.stop();
  }
}
