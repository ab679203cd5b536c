/**
 * (h) What one track egress costs on a real LiveKit server, next to LiveKit's reservation (track_cpu_cost:
 * 0.5 cores): a worker process of its own running only the track pool records one track of a test publisher
 * (640×360 H.264 at 30 fps → MP4; Opus → OGG) for BENCH_RECORD_SECONDS. Measured: the CPU and memory (PSS) of
 * that worker process and everything it starts, less the same worker idle for as long (the baseline,
 * measured in the same run).
 */
import { DirectFileOutput, EgressStatus } from '@livekit/protocol';
import { dispose } from '@livekit/rtc-node';
import { EgressClient } from 'livekit-server-sdk';
import { availableParallelism } from 'node:os';
import { waitForStatus } from '../test/support/egress-waits.ts';
import { startLiveKitServer } from '../test/support/livekit-server.ts';
import { startPublisher } from '../test/support/publisher.ts';
import { E2E_API_KEY, E2E_API_SECRET, startService } from '../test/support/service.ts';
import { spawnWorker } from '../test/support/worker-process.ts';
import { fmt, sampleTree } from './stats.ts';

const SECONDS = Number(process.env.BENCH_RECORD_SECONDS ?? 20);
const LIVEKIT_TRACK_RESERVATION = 0.5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function benchTrackEgressCost(): Promise<string[]> {
  const lines = [`(h) Track egress on a real LiveKit server, ${SECONDS} s each, its worker process alone, on ${availableParallelism()} cores`];
  const livekit = await startLiveKitServer({ apiKey: E2E_API_KEY, apiSecret: E2E_API_SECRET, departureTimeoutSec: 1, emptyTimeoutSec: 5 });
  // The API and uploads here; the track recorder in a process of its own, so its cost can be read off /proc.
  const service = await startService({ ws_url: livekit.url, pools: ['upload', 'webhook'] });
  const client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
  const worker = spawnWorker(service, ['track']);
  const publisher = await startPublisher({
    url: livekit.url,
    apiKey: E2E_API_KEY,
    apiSecret: E2E_API_SECRET,
    room: 'bench-track',
    identity: 'pub',
    video: { codec: 'h264', width: 640, height: 360, fps: 30 },
  });
  try {
    await sleep(3000); // the worker's start-up
    const idle = sampleTree(worker.pid!, { withRoot: true });
    await sleep(SECONDS * 1000);
    const baseline = await idle.stop();
    lines.push(`    baseline: the track worker idle : ${fmt(baseline.cores, 3)} cores, ${fmt(baseline.peakPssBytes / 2 ** 20, 0)} MB PSS`);
    for (const [kind, label] of [
      ['video', 'H.264 640x360 30 fps → MP4'],
      ['audio', 'Opus → OGG                 '],
    ] as const) {
      const started = await client.startTrackEgress(
        'bench-track',
        new DirectFileOutput({ filepath: `bench/track-${kind}` }),
        publisher.trackSid(kind)!,
      );
      await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE], 60_000);
      const sampler = sampleTree(worker.pid!, { withRoot: true });
      await sleep(SECONDS * 1000);
      const used = await sampler.stop();
      await client.stopEgress(started.egressId);
      const done = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 60_000);
      const cores = used.cores - baseline.cores;
      lines.push(
        `    ${label} : ${fmt(cores, 3)} cores above idle, ${fmt((used.peakPssBytes - baseline.peakPssBytes) / 2 ** 20, 0)} MB PSS above idle` +
          `   (LiveKit reserves ${LIVEKIT_TRACK_RESERVATION} cores: ×${fmt(LIVEKIT_TRACK_RESERVATION / Math.max(cores, 0.001), 0)} what it uses; ${EgressStatus[done.status]})`,
      );
    }
  } finally {
    await publisher.leave().catch(() => undefined);
    worker.kill('SIGTERM');
    await new Promise((r) => worker.once('exit', r));
    await dispose();
    await service.stop();
    await livekit.stop();
  }
  return lines;
}
