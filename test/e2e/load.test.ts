/**
 * Load: 200 Start requests at once against a room-composite pool capped at 2 recordings. Every egress either
 * runs (and ends LIMIT_REACHED at its 3 s max duration) or ends ABORTED at its start deadline saying why;
 * none is lost, none stays active, ListEgress accounts for all 200 the whole time, and the API answers
 * quickly under the burst.
 */
import { EgressInfo, EgressStatus, EncodedFileOutput, WebEgressRequest } from '@livekit/protocol';
import { AccessToken, EgressClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { E2E_API_KEY, E2E_API_SECRET, startService, type TestService } from '../support/service.ts';
import { startTestPage } from '../support/test-page.ts';

const REQUESTS = 200;
const START_DEADLINE_SEC = 15;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

describe('load', { concurrency: false }, () => {
  let service: TestService;
  let page: Awaited<ReturnType<typeof startTestPage>>;
  let client: EgressClient;

  before(async () => {
    page = await startTestPage();
    service = await startService({ concurrency: { 'room-composite': 2 }, start_deadline: START_DEADLINE_SEC, max_duration: 3 });
    client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
  });
  after(async () => {
    await service?.stop();
    await page?.close();
  });

  test(`${REQUESTS} Start requests at once, pool capped at 2: each runs or is ABORTED at its deadline, none lost`, async (t) => {
    const at = new AccessToken(E2E_API_KEY, E2E_API_SECRET, { identity: 'load', ttl: 600 });
    at.addGrant({ roomRecord: true });
    const auth = `Bearer ${await at.toJwt()}`;
    const body = new WebEgressRequest({ url: page.url, fileOutputs: [new EncodedFileOutput({ filepath: 'load/{time}.mp4' })] }).toJsonString();
    const latencies: number[] = [];
    const started = await Promise.all(
      Array.from({ length: REQUESTS }, async () => {
        const t0 = performance.now();
        const res = await fetch(`${service.url}/twirp/livekit.Egress/StartWebEgress`, {
          method: 'POST',
          headers: { authorization: auth, 'content-type': 'application/json' },
          body,
        });
        latencies.push(performance.now() - t0);
        assert.equal(res.status, 200, await res.clone().text());
        return EgressInfo.fromJson(await res.json()).egressId;
      }),
    );
    latencies.sort((a, b) => a - b);
    t.diagnostic(
      `Start RPC under a ${REQUESTS}-request burst: p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms, max ${latencies.at(-1)!.toFixed(0)} ms`,
    );
    assert.equal(new Set(started).size, REQUESTS);

    // While they drain: ListEgress always lists all 200, and never more than 2 recording at once.
    const deadline = Date.now() + (START_DEADLINE_SEC + 60) * 1000;
    let maxActive = 0;
    let listLatencies: number[] = [];
    for (;;) {
      const t0 = performance.now();
      const all = await client.listEgress({});
      listLatencies.push(performance.now() - t0);
      const mine = all.filter((info) => started.includes(info.egressId));
      assert.equal(mine.length, REQUESTS, 'every egress is listed');
      maxActive = Math.max(maxActive, mine.filter((i) => i.status === EgressStatus.EGRESS_ACTIVE).length);
      if (
        mine.every(
          (i) => i.status !== EgressStatus.EGRESS_STARTING && i.status !== EgressStatus.EGRESS_ACTIVE && i.status !== EgressStatus.EGRESS_ENDING,
        )
      )
        break;
      assert.ok(Date.now() < deadline, `still running: ${mine.filter((i) => i.status <= EgressStatus.EGRESS_ENDING).length}`);
      await sleep(500);
    }
    listLatencies = listLatencies.sort((a, b) => a - b);
    assert.ok(maxActive <= 2, `at most 2 recording at once, saw ${maxActive}`);

    const ended = (await client.listEgress({})).filter((info) => started.includes(info.egressId));
    const byStatus = new Map<string, number>();
    for (const info of ended) byStatus.set(EgressStatus[info.status], (byStatus.get(EgressStatus[info.status]) ?? 0) + 1);
    t.diagnostic(`outcome: ${JSON.stringify(Object.fromEntries(byStatus))}; ListEgress p50 ${percentile(listLatencies, 50).toFixed(0)} ms`);
    const ran = ended.filter((i) => i.status === EgressStatus.EGRESS_LIMIT_REACHED);
    const aborted = ended.filter((i) => i.status === EgressStatus.EGRESS_ABORTED);
    assert.equal(ran.length + aborted.length, REQUESTS, `only LIMIT_REACHED or ABORTED: ${JSON.stringify(Object.fromEntries(byStatus))}`);
    assert.ok(ran.length >= 2, 'some ran');
    for (const info of ran) assert.ok(Number(info.fileResults[0]?.size ?? 0) > 0, `${info.egressId} has its file`);
    for (const info of aborted) assert.match(info.error, /no room-composite worker was free to start this egress within 15 s/);
    assert.deepEqual(await client.listEgress({ active: true }), []);
  });
});
