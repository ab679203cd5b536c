/**
 * Admission by measured cost on this 2-core machine with LiveKit's default costs (web egress 4 cores, which
 * would admit none here): the first recording is taken at once (a node with nothing running takes one), the
 * second waits while the first is measured, and is taken once the measurement shows there is room. /healthz
 * and /metrics show each worker's capacity and LiveKit's availability gauges.
 */
import { EgressStatus, EncodedFileOutput } from '@livekit/protocol';
import { EgressClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { waitForStatus } from '../support/egress-waits.ts';
import { E2E_API_KEY, E2E_API_SECRET, startService, type TestService } from '../support/service.ts';
import { startTestPage } from '../support/test-page.ts';
import { waitFor } from '../support/wait-for.ts';

interface HealthWorker {
  cores: number;
  running: number;
  freeCores: number;
  canAccept: Record<string, boolean>;
  estimates: Record<string, number>;
}

describe('admission by measured cost', { concurrency: false }, () => {
  let service: TestService;
  let page: Awaited<ReturnType<typeof startTestPage>>;
  let client: EgressClient;
  const health = async () => ((await (await fetch(`${service.url}/healthz`)).json()) as { workers: HealthWorker[] }).workers;

  before(async () => {
    page = await startTestPage();
    service = await startService({
      admission: true,
      concurrency: { 'room-composite': 4 },
      cpu_cost: { web_cpu_cost: 4, room_composite_cpu_cost: 4 },
    });
    client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
  });
  after(async () => {
    await service?.stop();
    await page?.close();
  });

  test('LiveKit costs as the first estimate, then what is measured: a second recording once there is room', async (t) => {
    let workers = await health();
    for (let i = 0; i < 20 && workers.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 250));
      workers = await health();
    }
    assert.equal(workers.length, 1, 'the worker reports its capacity');
    assert.equal(workers[0]!.cores, availableParallelism());
    assert.equal(workers[0]!.estimates['room-composite'], 4, 'nothing measured yet: the configured cost');
    const idleMetrics = await (await fetch(`${service.url}/metrics`)).text();
    assert.match(idleMetrics, /^livekit_egress_available 1$/m);
    assert.match(idleMetrics, /^livekit_egress_can_accept_request 1$/m);

    const first = await client.startWebEgress(page.url, new EncodedFileOutput({ filepath: 'admission/first.mp4' }));
    await waitForStatus(client, first.egressId, [EgressStatus.EGRESS_ACTIVE], 60_000);
    const firstActiveAt = Date.now();
    const second = await client.startWebEgress(page.url, new EncodedFileOutput({ filepath: 'admission/second.mp4' }));
    await new Promise((r) => setTimeout(r, 5000));
    const [held] = await client.listEgress({ egressId: second.egressId });
    assert.equal(held?.status, EgressStatus.EGRESS_STARTING, 'held back while a 4-core reservation fills the node');
    const busyMetrics = await (await fetch(`${service.url}/metrics`)).text();
    assert.match(busyMetrics, /^livekit_egress_can_accept_request 0$/m);
    assert.match(busyMetrics, /^egress_queue_worker_running\{worker="[^"]+"\} 1$/m);

    await waitForStatus(client, second.egressId, [EgressStatus.EGRESS_ACTIVE], 90_000);
    const waitedSec = (Date.now() - firstActiveAt) / 1000;
    // The capacity report is written once a second: it may still be the one from before the second began.
    workers = await waitFor('the capacity report counting both recordings', 5000, async () => {
      const now = await health();
      return now[0]?.running === 2 && now;
    }).catch(async (err: Error) => {
      const statuses = await Promise.all([first, second].map(async ({ egressId }) => (await client.listEgress({ egressId }))[0]?.status));
      throw new Error(`${err.message}; egress statuses ${statuses.map((s) => EgressStatus[s ?? 0]).join(', ')}`);
    });
    t.diagnostic(
      `second admitted ${waitedSec.toFixed(1)} s after the first started; measured cost ${workers[0]!.estimates['room-composite']} cores, free ${workers[0]!.freeCores}`,
    );
    assert.ok(workers[0]!.estimates['room-composite'] < 2, `measured ${workers[0]!.estimates['room-composite']} cores per web recording`);

    await Promise.all([client.stopEgress(first.egressId), client.stopEgress(second.egressId)]);
    for (const id of [first.egressId, second.egressId]) {
      const done = await waitForStatus(client, id, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 60_000);
      assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
    }
  });
});
