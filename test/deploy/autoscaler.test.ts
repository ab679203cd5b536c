/**
 * Scale from zero and back, as the Helm chart sets it up: a simulated KEDA reads the room-composite
 * ScaledObject's trigger from the running API (GET /scaling/room-composite), applies KEDA's and the HPA's
 * formulas with the chart's cool-downs (cut to seconds by test/deploy/simulation-values.yaml), and starts and
 * stops real worker processes. Six web egresses arrive at zero workers: workers come up (ceil(6 / 2) = 3),
 * every egress is ACTIVE before its start deadline. Four are stopped: the backlog falls to 2 and the pool to one
 * replica, and the newest pod is terminated while it still records; that recording goes on (the drain) and is
 * complete. Then the rest are stopped, the pool cools down to zero, every worker drained and exited 0, and all
 * six egresses ended COMPLETE with their whole recording.
 */
import { EgressStatus, EncodedFileOutput, EncodingOptions, type EgressInfo } from '@livekit/protocol';
import { EgressClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EgressLeases } from '../../shared/lease/egress-lease.ts';
import { waitForStatus } from '../support/egress-waits.ts';
import { waitFor } from '../support/wait-for.ts';
import { startScaledPool, type ScaledPool } from '../support/scaled-pool.ts';
import { E2E_API_KEY, E2E_API_SECRET } from '../support/service.ts';
import { startTestPage, type TestPage } from '../support/test-page.ts';
import type { Pod } from '../support/worker-deployment.ts';

const EGRESSES = 6;
/** Small frames at 15 fps: six recordings at once on a 2-core machine. */
const ENCODING = new EncodingOptions({ width: 640, height: 360, framerate: 15 });
const nanosToMs = (ns: bigint) => Number(ns / 1_000_000n);

describe('autoscaling on the backlog, down to zero (simulated KEDA, real workers)', { concurrency: false }, () => {
  let pool: ScaledPool;
  let page: TestPage;
  let client: EgressClient;

  before(async () => {
    page = await startTestPage();
    pool = await startScaledPool();
    client = new EgressClient(pool.service.url, E2E_API_KEY, E2E_API_SECRET);
  });
  after(async () => {
    await pool?.stop();
    await page?.close();
  });

  test('0 → 3 workers for 6 egresses, all ACTIVE in time; a scale-down drains a recording pod; back to 0, nothing lost', async (t) => {
    const { deployment, keda, spec, chartConfig, service } = pool;
    const startDeadlineMs = chartConfig.start_deadline * 1000;
    assert.equal(spec.target, chartConfig.concurrency['room-composite'], 'the trigger targets the pool\'s concurrency');
    assert.equal(spec.minReplicas, 0);

    // Idle: the trigger reads 0 and no worker runs.
    await sleep(2500);
    assert.ok(keda.history.length >= 2 && keda.history.every((d) => d.metric === 0 && d.replicas === 0), JSON.stringify(keda.history));
    assert.equal(deployment.pods.length, 0);

    const sentAt = Date.now();
    const started = await Promise.all(
      Array.from({ length: EGRESSES }, (_, i) => client.startWebEgress(page.url, new EncodedFileOutput({ filepath: `scale/${i}.mp4` }), { encodingOptions: ENCODING })),
    );
    const ids = started.map((info) => info.egressId);

    // Every one ACTIVE before its start deadline; RPC → ACTIVE from the first captured frame.
    const active = new Map<string, EgressInfo>();
    await waitFor(
      'all six ACTIVE',
      startDeadlineMs,
      async () => {
        for (const info of await client.listEgress({})) {
          if (!ids.includes(info.egressId)) continue;
          assert.ok(info.status <= EgressStatus.EGRESS_ACTIVE, `${info.egressId} ${EgressStatus[info.status]} before it was ACTIVE: ${info.error}`);
          if (info.status === EgressStatus.EGRESS_ACTIVE) active.set(info.egressId, info);
        }
        return active.size === EGRESSES;
      },
      100,
    );
    const toActive = ids.map((id) => nanosToMs(active.get(id)!.startedAt) - sentAt);
    for (const ms of toActive) assert.ok(ms < startDeadlineMs, `RPC → ACTIVE ${ms} ms, past the start deadline`);
    t.diagnostic(`RPC → ACTIVE from zero workers: ${toActive.map((ms) => (ms / 1000).toFixed(1)).join(', ')} s`);
    assert.equal(deployment.replicas, Math.ceil(EGRESSES / spec.target), 'ceil(backlog / concurrency) workers');

    // Who records what: the egress's lease names its holder, the worker (host-pid-nonce).
    const leases = new EgressLeases(service.workers.ctx.redis, service.config.redis.prefix);
    const pidOf = async (egressId: string) => Number(/-(\d+)-[0-9a-f]+$/.exec((await leases.holder(egressId))?.holderId ?? '')?.[1]);
    const byPod = new Map<Pod, string[]>(deployment.pods.map((p) => [p, []]));
    for (const id of ids) {
      const pid = await pidOf(id);
      const pod = deployment.pods.find((p) => p.child.pid === pid);
      assert.ok(pod, `${id} is recorded by one of the pool's workers`);
      byPod.get(pod)!.push(id);
    }
    assert.deepEqual([...byPod.values()].map((list) => list.length), [2, 2, 2], 'each worker runs its concurrency');
    await sleep(3000);

    // Stop four: one keeps recording on the oldest pod, one on the newest. Backlog 2 → one replica.
    const [oldest, , newest] = [...deployment.pods].sort((a, b) => a.startedAtMs - b.startedAtMs) as [Pod, Pod, Pod];
    const keptOnNewest = byPod.get(newest)![0]!;
    const keptOnOldest = byPod.get(oldest)![0]!;
    const stoppedAt = new Map<string, number>();
    const stop = async (id: string) => {
      stoppedAt.set(id, Date.now());
      await client.stopEgress(id);
    };
    await Promise.all(ids.filter((id) => id !== keptOnNewest && id !== keptOnOldest).map(stop));
    await waitFor('the scale-down to one replica', 30_000, () => newest.terminatingAtMs !== undefined);
    assert.equal(deployment.replicas, 1);
    assert.equal(oldest.terminatingAtMs, undefined, 'the newer pods go first');
    // The terminated pod drains: its recording goes on well past the SIGTERM.
    await sleep(4000);
    assert.equal(newest.exit, undefined, 'a draining pod with a recording has not exited');
    assert.equal((await client.listEgress({ egressId: keptOnNewest }))[0]?.status, EgressStatus.EGRESS_ACTIVE, 'the recording goes on through the drain');
    await Promise.all([stop(keptOnNewest), stop(keptOnOldest)]);

    // All COMPLETE, each file as long as it was ACTIVE until its stop.
    for (const id of ids) {
      const done = await waitForStatus(client, id, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED, EgressStatus.EGRESS_ABORTED], 60_000);
      assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, `${id}: ${done.error}`);
      const file = done.fileResults[0]!;
      assert.equal(BigInt(statSync(file.location).size), file.size);
      const expectedSec = (stoppedAt.get(id)! - nanosToMs(active.get(id)!.startedAt)) / 1000;
      const recordedSec = Number(file.duration) / 1e9;
      assert.ok(Math.abs(recordedSec - expectedSec) < 2, `${id}: recorded ${recordedSec.toFixed(1)} s of ${expectedSec.toFixed(1)} s`);
    }

    // Backlog gone: cool-down, then zero; every worker drained and exited on its own, with 0.
    await waitFor('every worker to exit', (spec.cooldownPeriodSec + chartConfig.shutdown_grace) * 1000, () => deployment.running === 0);
    assert.equal(deployment.replicas, 0);
    const exits = deployment.pods.map((p) => p.exit);
    assert.deepEqual(exits.map((e) => [e?.code, e?.signal]), deployment.pods.map(() => [0, null]), 'drained, never killed');
    assert.ok(deployment.pods.every((p) => !p.killed), 'no pod outlived its termination grace period');
    assert.equal(keda.history.at(-1)!.replicas, 0);
    assert.equal(keda.peak, 3, `peak replicas: ${keda.peak}`);
    const drainSec = (newest.exit!.atMs - newest.terminatingAtMs!) / 1000;
    t.diagnostic(`the pod scaled down while recording drained for ${drainSec.toFixed(1)} s, until its recording ended`);
  });
});
