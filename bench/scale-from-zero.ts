/**
 * (k) Scale from zero: RPC → ACTIVE for a web egress that arrives at a room-composite pool with no worker,
 * against one whose pool keeps a warm worker, both as the Helm chart deploys them on this machine
 * (test/support/scaled-pool.ts: the chart's ScaledObject read by a simulated KEDA polling GET
 * /scaling/room-composite every pollingInterval of test/deploy/simulation-values.yaml, 1 s; real worker
 * processes; the service's default warm_pool.size 1).
 *
 * - cold: minReplicas 0, the pool at zero before each start. Split into KEDA noticing the backlog (RPC → the
 *   worker process is started) and the worker's start up to the first frame.
 * - warm: minReplicas 1, its worker up with a warm station ready before each start.
 *
 * In a cluster, add to cold what a process start here does not have: the pod's scheduling and container start
 * (seconds with the image on the node; minutes if the cluster autoscaler must add a node), and a KEDA poll of up
 * to the chart's pollingInterval (5 s) instead of 1 s.
 */
import { EgressStatus, EncodedFileOutput } from '@livekit/protocol';
import { EgressClient } from 'livekit-server-sdk';
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitForStatus } from '../test/support/egress-waits.ts';
import { startScaledPool, type ScaledPool } from '../test/support/scaled-pool.ts';
import { E2E_API_KEY, E2E_API_SECRET } from '../test/support/service.ts';
import { waitFor } from '../test/support/wait-for.ts';
import { startTestPage, type TestPage } from '../test/support/test-page.ts';
import { fmt, summarize } from './stats.ts';

const RUNS = Number(process.env.BENCH_SCALE_RUNS ?? 5);
const SERVICE = { logging: { level: 'error' }, warm_pool: { size: 1 } };

interface Start {
  toActiveMs: number;
  /** RPC → a worker process was started for it (cold only). */
  noticedMs?: number;
}

/** A warm station's Chromium is up (its processes carry EGRESS_WARM_STATION: workers/web/warm-pool.ts). */
async function warmStationUp(): Promise<boolean> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const [cmdline, environ] = await Promise.all([
      readFile(`/proc/${entry}/cmdline`, 'latin1').catch(() => ''),
      readFile(`/proc/${entry}/environ`, 'latin1').catch(() => ''),
    ]);
    if (cmdline.includes('chromium') && environ.includes('EGRESS_WARM_STATION=')) return true;
  }
  return false;
}

async function startOne(pool: ScaledPool, page: TestPage, client: EgressClient, name: string): Promise<Start> {
  const podsBefore = pool.deployment.pods.length;
  const sentAt = Date.now();
  const info = await client.startWebEgress(page.url, new EncodedFileOutput({ filepath: `bench/${name}.mp4` }));
  const active = await waitForStatus(client, info.egressId, [EgressStatus.EGRESS_ACTIVE], 60_000);
  const started = pool.deployment.pods[podsBefore];
  await client.stopEgress(info.egressId);
  await waitForStatus(client, info.egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 60_000);
  return { toActiveMs: Number(active.startedAt / 1_000_000n) - sentAt, ...(started ? { noticedMs: started.startedAtMs - sentAt } : {}) };
}

async function coldStarts(page: TestPage): Promise<Start[]> {
  const pool = await startScaledPool({ serviceYaml: SERVICE });
  try {
    const client = new EgressClient(pool.service.url, E2E_API_KEY, E2E_API_SECRET);
    const starts: Start[] = [];
    for (let i = 0; i < RUNS; i++) {
      // At zero: the last worker has cooled down, drained and exited.
      await waitFor('the pool at zero', 60_000, () => pool.deployment.running === 0);
      await sleep(1000);
      starts.push(await startOne(pool, page, client, `cold-${i}`));
    }
    return starts;
  } finally {
    await pool.stop();
  }
}

async function warmStarts(page: TestPage): Promise<Start[]> {
  const pool = await startScaledPool({ set: { 'pools.room-composite.autoscaling.minReplicas': '1' }, serviceYaml: SERVICE });
  try {
    const client = new EgressClient(pool.service.url, E2E_API_KEY, E2E_API_SECRET);
    const starts: Start[] = [];
    for (let i = 0; i < RUNS; i++) {
      // "When capacity is free": the worker is up, its last recording over (its station gone, a new one is
      // made 3 s later) and a new station ready.
      await waitFor('the warm worker', 60_000, () => pool.deployment.replicas === 1);
      if (i > 0) await sleep(4000);
      await waitFor('a warm station', 60_000, warmStationUp, 100);
      await sleep(2000);
      starts.push(await startOne(pool, page, client, `warm-${i}`));
    }
    return starts;
  } finally {
    await pool.stop();
  }
}

export async function benchScaleFromZero(): Promise<string[]> {
  const page = await startTestPage();
  try {
    const cold = await coldStarts(page);
    const warm = await warmStarts(page);
    const ms = (values: number[]) =>
      `p50 ${fmt(summarize(values).p50, 0)} ms, max ${fmt(Math.max(...values), 0)} ms (${values.map((v) => fmt(v, 0)).join(', ')})`;
    const coldActive = cold.map((s) => s.toActiveMs);
    const noticed = cold.map((s) => s.noticedMs ?? NaN);
    return [
      `(k) Scale from zero, room composite pool as the Helm chart deploys it (simulated KEDA polling GET /scaling/room-composite every 1 s, real worker processes), RPC → first frame (ACTIVE), 1280x720 web page, ${RUNS} starts each:`,
      `    cold, 0 workers (minReplicas 0) : ${ms(coldActive)}`,
      `      of which KEDA notices the backlog and starts a worker : ${ms(noticed)}`,
      `      and the worker starts and records its first frame   : ${ms(cold.map((s, i) => s.toActiveMs - noticed[i]!))}`,
      `    warm worker (minReplicas 1, warm station ready) : ${ms(warm.map((s) => s.toActiveMs))}`,
      `    cold / warm p50: ${fmt(summarize(coldActive).p50 / summarize(warm.map((s) => s.toActiveMs)).p50, 1)}`,
      '    In a cluster cold also has the pod scheduled and its container started, and a poll every pollingInterval (chart default 5 s).',
    ];
  } finally {
    await page.close();
  }
}
