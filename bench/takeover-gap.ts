/**
 * (l) Takeover: a web egress (file + HLS) whose recording worker is SIGKILLed, again and again, while another
 * worker process of the pool waits. Measured per takeover: kill → frames flowing again, as the API shows it
 * (the EgressInfo's details count the takeover once the new recorder has its first frame). Baseline, in the
 * same run and on the same machine: the egress's own start, RPC → ACTIVE, on an idle worker: what a user waits
 * for frames the first time. Then the share of the recording kept: the delivered file's duration (from its
 * packets, file_results) against the time recorded (first frame → stop, less the gaps), and the HLS output's.
 *
 * The gap is the lease's lapse (takeover.lease_ttl, 6 s, less the time since its last renewal), the reaper's
 * scan (1 s), and the new worker's start of the recorder (Chromium, Xvfb, PulseAudio, ffmpeg; cold here:
 * warm_pool.size 0 as in the tests).
 */
import { EgressStatus, EncodedFileOutput, SegmentedFileOutput } from '@livekit/protocol';
import { EgressClient } from 'livekit-server-sdk';
import { setTimeout as sleep } from 'node:timers/promises';
import { EgressLeases } from '../shared/lease/egress-lease.ts';
import { waitForStatus } from '../test/support/egress-waits.ts';
import { E2E_API_KEY, E2E_API_SECRET, startService } from '../test/support/service.ts';
import { startTestPage } from '../test/support/test-page.ts';
import { waitFor } from '../test/support/wait-for.ts';
import { egressInfo, isAlive, RecordWorkers } from '../test/support/takeover-harness.ts';
import { summarize } from './stats.ts';

const TAKEOVERS = Number(process.env.BENCH_TAKEOVERS ?? 10);
/** Recording time between one takeover and the next kill. */
const RECORD_BETWEEN_MS = 5_000;
const POOL = 'room-composite';
const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const takeoversIn = (details: string) => Number(/\((\d+) takeovers?\)/.exec(details)?.[1] ?? 0);

export async function benchTakeoverGap(): Promise<string[]> {
  const page = await startTestPage();
  const service = await startService({ pools: ['upload'], logging: { level: 'error' } });
  const workers = new RecordWorkers(service);
  try {
    const client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
    const leases = new EgressLeases(service.workers.ctx.redis, service.config.redis.prefix);
    const addWorker = () => workers.start(POOL);

    await addWorker();
    const sentAt = Date.now();
    const started = await client.startWebEgress(page.url, {
      file: new EncodedFileOutput({ filepath: 'bench/takeover.mp4' }),
      segments: new SegmentedFileOutput({ filenamePrefix: 'bench/takeover', playlistName: 'takeover.m3u8', segmentDuration: 2 }),
    });
    const active = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE], 60_000);
    const firstStartMs = Number(active.startedAt / 1_000_000n) - sentAt;
    await addWorker();

    const gapsMs: number[] = [];
    for (let n = 1; n <= TAKEOVERS; n++) {
      await sleep(RECORD_BETWEEN_MS);
      const holder = (await leases.holder(started.egressId))?.holderId ?? '';
      const owner = workers.all.find((w) => isAlive(w) && holder.includes(`-${w.pid}-`));
      if (!owner) throw new Error(`no live worker holds ${started.egressId} (holder ${holder})`);
      const killedAt = Date.now();
      await workers.kill(owner);
      // One worker waits for the next takeover while this one resumes; the replacement starts meanwhile.
      const replacement = addWorker();
      await waitFor(`takeover ${n}`, 60_000, async () => takeoversIn((await egressInfo(client, started.egressId)).details) >= n, 50);
      gapsMs.push(Date.now() - killedAt);
      await replacement;
    }
    await sleep(RECORD_BETWEEN_MS);
    await client.stopEgress(started.egressId);
    const ended = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 120_000);
    if (ended.status !== EgressStatus.EGRESS_COMPLETE) throw new Error(`the egress ended ${EgressStatus[ended.status]}: ${ended.error}`);
    const fileSec = Number(ended.fileResults[0]?.duration ?? 0n) / 1e9;
    const spanSec = Number(ended.endedAt - ended.startedAt) / 1e9;

    const gaps = summarize(gapsMs);
    const recordedSec = spanSec - gapsMs.reduce((a, b) => a + b, 0) / 1000;
    const hlsSec = Number(ended.segmentResults[0]?.duration ?? 0n) / 1e9;
    const maxGap = Math.max(...gapsMs);
    const segments = ended.segmentResults[0];
    return [
      `takeover (${TAKEOVERS} SIGKILLs of the recording worker, another waiting; web egress, file + HLS):`,
      `  baseline: the egress's first start, RPC → ACTIVE  ${sec(firstStartMs)}`,
      `  kill → frames again (RPC-visible)   p50 ${sec(gaps.p50)} (${(gaps.p50 / firstStartMs).toFixed(2)}× the first start)   max ${sec(maxGap)} (${(maxGap / firstStartMs).toFixed(2)}×)   target ≤ 15 s`,
      `  recording kept: one file of ${fileSec.toFixed(1)} s = ${((100 * fileSec) / recordedSec).toFixed(1)} % of the ${recordedSec.toFixed(1)} s recorded (first frame → stop ${spanSec.toFixed(1)} s, less the gaps); HLS ${segments?.segmentCount ?? 0n} segments, ${hlsSec.toFixed(1)} s`,
    ];
  } finally {
    workers.killAll();
    await service.stop();
    await page.close();
  }
}
