/**
 * The control plane of a takeover (issue 16, items 1 and 2), on real worker processes and a real Redis: a web
 * egress recorded by worker A goes on in worker B when A is lost, and stays one ACTIVE egress throughout.
 * - SIGKILL of A: its lease lapses, the reaper queues part 2, B (idle, waiting) resumes it; the EgressInfo stays
 *   ACTIVE, its details name the takeover and its count, an egress_updated webhook says so; the figure measured
 *   is kill → B's recorder active (RPC-visible). Stale jobs of the egress that come back (part 1, part 2) do
 *   nothing. StopEgress then ends it COMPLETE.
 * - Frozen: A SIGSTOPped cannot stop its recorder; its group watchdog kills it before the lease can be granted
 *   to B; thawed, A ends its job 'lease lost' and writes nothing.
 * - Partition: A reaches Redis through a proxy that stops forwarding; A kills its recorder before Redis can grant
 *   the lease to B (its ffmpeg gone from the process table first), B takes over, and once the proxy heals A
 *   writes nothing and does not resume: its job ended 'lease lost', the EgressInfo and the lease are B's.
 * - StopEgress in the gap: B takes the part over, stops at its first frame, and the egress ends COMPLETE with one
 *   file of both parts. Stopped while B awaits a start signal that never comes: after the hold, FAILED with why,
 *   and A's recording delivered by the salvage, never lost with the part.
 * The API (with the reaper), the upload and webhook pools run here; the recorders in child worker processes.
 */
import { EgressStatus, EncodedFileOutput } from '@livekit/protocol';
import { EgressClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { basename } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EgressLeases } from '../../shared/lease/egress-lease.ts';
import type { RecordJobData } from '../../shared/queues.ts';
import { partLogOf } from '../../shared/takeover/part-log.ts';
import { partJobId } from '../../shared/takeover/takeover.ts';
import { ownerOf } from '../../workers/process/owner-tag.ts';
import { waitForFileLocation, waitForStatus } from '../support/egress-waits.ts';
import { probe } from '../support/ffprobe.ts';
import { processesOwnedBy } from '../support/owned-processes.ts';
import { E2E_API_KEY, E2E_API_SECRET, startService, type TestService } from '../support/service.ts';
import { startStallProxy, type StallProxy } from '../support/stall-proxy.ts';
import { startTestPage, type TestPage } from '../support/test-page.ts';
import { waitFor } from '../support/wait-for.ts';
import { startWebhookSink, type WebhookSink } from '../support/webhook-sink.ts';
import { spawnWorker } from '../support/worker-process.ts';
import { egressInfo, holderPid, isAlive, RecordWorkers, watchActive } from '../support/takeover-harness.ts';

/** The target, kill → frames flowing again with a free worker waiting; asserted with room for a loaded machine. */
const TARGET_GAP_MS = 15_000;
const ASSERTED_GAP_MS = 25_000;
const POOL = 'room-composite';
const RESUMED = /resumed by another worker after its recorder was lost \(1 takeover\)/;

describe('takeover: control plane', { concurrency: false }, () => {
  let page: TestPage;
  let hooks: WebhookSink;
  let service: TestService;
  let client: EgressClient;
  let leases: EgressLeases;
  let workers: RecordWorkers;
  const proxies: StallProxy[] = [];

  before(async () => {
    page = await startTestPage();
    hooks = await startWebhookSink(E2E_API_KEY, E2E_API_SECRET);
    service = await startService({ pools: ['upload', 'webhook'], webhook: { urls: [hooks.url], backoff: 100 } });
    workers = new RecordWorkers(service);
    client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
    leases = new EgressLeases(service.workers.ctx.redis, service.config.redis.prefix);
  });
  after(async () => {
    workers?.killAll();
    for (const proxy of proxies) await proxy.close();
    await service?.stop();
    await hooks?.close();
    await page?.close();
  });

  const recordQueue = () => service.workers.ctx.queues.get(POOL);

  /** Starts a web egress (file output) on the running worker and waits until it records. */
  const startRecording = async (name: string): Promise<string> => {
    const started = await client.startWebEgress(page.url, new EncodedFileOutput({ filepath: `takeover/${name}.mp4` }));
    await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE], 60_000);
    return started.egressId;
  };

  /** Waits until the egress's details say it was resumed: B's recorder had its first frame. */
  const untilResumed = (egressId: string, timeoutMs: number) =>
    waitFor(`${egressId} resumed`, timeoutMs, async () => RESUMED.test((await egressInfo(client, egressId)).details), 100);

  /** The record job's outcome (its processor's return value), once it has finished. */
  const outcomeOf = (jobId: string) =>
    waitFor(
      `job ${jobId} finished`,
      60_000,
      async () => {
        const job = await recordQueue().getJob(jobId);
        return job?.finishedOn ? String(job.returnvalue) : undefined;
      },
      100,
    );

  /** The ffmpegs a worker process (its owner tag) runs. */
  const ffmpegsOf = async (owner: string) => (await processesOwnedBy(owner)).filter((p) => basename(p.command) === 'ffmpeg');

  /**
   * Cuts A off (`cut`), then measures who goes first: A's ffmpeg, or B's grant of the lease (it must be A's
   * ffmpeg: no output ever has two writers); then waits until B records.
   */
  const cutOff = async (t: TestContext, what: string, cut: () => void, who: { a: string; b: number; egressId: string }) => {
    const cutAt = performance.now();
    cut();
    let goneAt: number | undefined;
    let grantedAt: number | undefined;
    await waitFor(
      "A's recorder gone and B granted the lease",
      60_000,
      async () => {
        goneAt ??= (await ffmpegsOf(who.a)).length === 0 ? performance.now() : undefined;
        grantedAt ??= (await holderPid(leases, who.egressId)) === who.b ? performance.now() : undefined;
        return goneAt !== undefined && grantedAt !== undefined;
      },
      25,
    );
    assert.ok(goneAt !== undefined && grantedAt !== undefined);
    t.diagnostic(`${what} → A's ffmpeg gone ${Math.round(goneAt - cutAt)} ms, → B granted ${Math.round(grantedAt - cutAt)} ms`);
    assert.ok(
      goneAt < grantedAt,
      `A's recorder stopped (${Math.round(goneAt - cutAt)} ms) before B was granted (${Math.round(grantedAt - cutAt)} ms)`,
    );
    await untilResumed(who.egressId, 60_000);
    t.diagnostic(`${what} → B's recorder active: ${Math.round(performance.now() - cutAt)} ms`);
  };

  test('SIGKILL of the recording worker: another takes over, ACTIVE throughout, resumed with a count, stale jobs do nothing', async (t: TestContext) => {
    const a = await workers.start(POOL);
    const egressId = await startRecording('killed');
    assert.equal(await holderPid(leases, egressId), a.pid, "A holds the egress's lease");
    const b = await workers.start(POOL);
    await sleep(3000);

    const watch = watchActive(client, egressId);
    const killedAt = Date.now();
    a.kill('SIGKILL');
    await untilResumed(egressId, 60_000);
    const gapMs = Date.now() - killedAt;
    t.diagnostic(`kill → B's recorder active (RPC-visible): ${(gapMs / 1000).toFixed(1)} s (target ${TARGET_GAP_MS / 1000} s)`);
    console.log(`takeover gap, SIGKILL → active again: ${gapMs} ms`);
    assert.ok(gapMs < ASSERTED_GAP_MS, `resumed ${gapMs} ms after the kill`);
    assert.equal(await holderPid(leases, egressId), b.pid, "B holds the egress's lease");

    await sleep(3000);
    assert.deepEqual(await watch.stop(), [], 'the egress stayed ACTIVE from the kill to B recording');
    const info = await egressInfo(client, egressId);
    assert.equal(info.status, EgressStatus.EGRESS_ACTIVE);
    assert.match(info.details, RESUMED);
    // B records: its capture process runs for the egress.
    assert.ok((await ffmpegsOf(ownerOf(b.pid!)!)).length > 0, 'B runs an ffmpeg for the egress');
    const updated = await waitFor('egress_updated naming the takeover', 10_000, () =>
      hooks.events.find((e) => e.event === 'egress_updated' && e.egressInfo?.egressId === egressId && RESUMED.test(e.egressInfo.details)),
    );
    assert.equal(updated.egressInfo?.status, EgressStatus.EGRESS_ACTIVE);

    // Stale jobs come back (a stalled job re-queued by BullMQ, a duplicate of the takeover's part): nothing happens.
    const part1 = await recordQueue().getJob(partJobId(egressId, 1));
    const part2 = await recordQueue().getJob(partJobId(egressId, 2));
    assert.ok(part1 && part2, 'the jobs of both parts are in the queue');
    const { plan } = part1.data;
    const takeover = part2.data.takeover;
    assert.ok(takeover, 'part 2 carries its takeover');
    assert.equal(takeover.part, 2);
    for (const [jobId, data] of [
      [`${egressId}-stale-part-1`, { plan }],
      [`${egressId}-stale-part-2`, { plan, takeover }],
    ] as const satisfies readonly (readonly [string, RecordJobData])[]) {
      await recordQueue().add(plan.requestKind, data, { jobId });
      assert.equal(await outcomeOf(jobId), 'taken over elsewhere', jobId);
    }
    assert.equal(await holderPid(leases, egressId), b.pid, 'B still holds the egress');
    const after = await egressInfo(client, egressId);
    assert.equal(after.status, EgressStatus.EGRESS_ACTIVE);
    assert.match(after.details, RESUMED);

    await client.stopEgress(egressId);
    const ended = await waitForStatus(client, egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 60_000);
    assert.equal(ended.status, EgressStatus.EGRESS_COMPLETE, ended.error);
    assert.ok(
      !hooks.events.some(
        (e) => e.event === 'egress_ended' && e.egressInfo?.egressId === egressId && e.egressInfo.status !== EgressStatus.EGRESS_COMPLETE,
      ),
    );
    await workers.kill(b);
  });

  /**
   * A loses the egress without dying: `cut` takes A away (a partition, a freeze), `heal` brings it back. How A is
   * started (`env`) and cut depends on the fault.
   */
  const faults: {
    name: string;
    what: string;
    prepare: () => Promise<{ env?: Record<string, string>; cut: (a: ChildProcess) => void; heal: (a: ChildProcess) => void }>;
  }[] = [
    {
      name: 'partition: A stops its recorder before its lease can be granted to B, B takes over, A writes nothing once healed',
      what: 'cut off',
      prepare: async () => {
        const proxy = await startStallProxy(service.redis.port);
        proxies.push(proxy);
        return { env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}` }, cut: () => proxy.stall(), heal: () => proxy.resume() };
      },
    },
    {
      name: 'frozen (SIGSTOP): its watchdog kills its recorder before the lease can be granted to B; thawed, A writes nothing',
      what: 'frozen',
      prepare: () => Promise.resolve({ cut: (a) => a.kill('SIGSTOP'), heal: (a) => a.kill('SIGCONT') }),
    },
  ];

  for (const fault of faults) {
    test(fault.name, async (t: TestContext) => {
      const { env, cut, heal } = await fault.prepare();
      const a = await workers.start(POOL, env);
      const ownerA = ownerOf(a.pid!)!;
      const egressId = await startRecording(fault.what.replace(' ', '-'));
      assert.equal(await holderPid(leases, egressId), a.pid);
      const b = await workers.start(POOL);
      await sleep(3000);
      assert.ok((await ffmpegsOf(ownerA)).length > 0, 'A records');

      const watch = watchActive(client, egressId);
      await cutOff(t, fault.what, () => cut(a), { a: ownerA, b: b.pid!, egressId });

      // A comes back (its held-back commands reach Redis, its timers run): its job ends; it writes and records nothing.
      const resumed = await egressInfo(client, egressId);
      heal(a);
      assert.equal(await outcomeOf(partJobId(egressId, 1)), 'lease lost', "A's job ended on the loss of its lease");
      await sleep(5000);
      assert.deepEqual(await watch.stop(), [], 'ACTIVE throughout');
      assert.equal((await ffmpegsOf(ownerA)).length, 0, 'A does not resume recording');
      assert.equal(await holderPid(leases, egressId), b.pid, 'the lease is still B’s');
      const now = await egressInfo(client, egressId);
      assert.equal(now.status, EgressStatus.EGRESS_ACTIVE);
      assert.equal(now.details, resumed.details, 'nothing of A’s landed on the record');

      await client.stopEgress(egressId);
      const ended = await waitForStatus(client, egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 60_000);
      assert.equal(ended.status, EgressStatus.EGRESS_COMPLETE, ended.error);
      await workers.kill(a);
      await workers.kill(b);
    });
  }
});

describe('takeover: stopped before the part taking over records', { concurrency: false }, () => {
  let page: TestPage;
  let service: TestService;
  let client: EgressClient;
  let workers: RecordWorkers;

  before(async () => {
    page = await startTestPage();
    service = await startService({ pools: ['upload', 'webhook'] });
    workers = new RecordWorkers(service);
    client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
  });
  after(async () => {
    workers?.killAll();
    await service?.stop();
    await page?.close();
  });

  test('StopEgress in the gap: the part taking over stops at its first frame; COMPLETE as a stop ends it, one file of both parts', async (t) => {
    const a = await workers.start(POOL);
    const started = await client.startWebEgress(page.url, new EncodedFileOutput({ filepath: 'takeover/stopped-in-gap.mp4' }));
    const { egressId } = started;
    const active = await waitForStatus(client, egressId, [EgressStatus.EGRESS_ACTIVE], 60_000);
    const b = await workers.start(POOL);
    await sleep(4000);
    a.kill('SIGKILL');
    const killedAtMs = Date.now();
    // Before A's lease has even lapsed: nobody records the egress.
    await sleep(500);
    const stopping = await client.stopEgress(egressId);
    assert.equal(stopping.status, EgressStatus.EGRESS_ENDING);

    const ended = await waitForStatus(
      client,
      egressId,
      [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED, EgressStatus.EGRESS_ABORTED],
      90_000,
    );
    assert.equal(ended.status, EgressStatus.EGRESS_COMPLETE, ended.error);
    assert.equal(ended.details, 'End reason: StopEgress API');
    assert.equal(ended.error, '');
    const parts = await partLogOf(service.workers.ctx).list(egressId);
    assert.deepEqual(
      parts.map((p) => p.part),
      [1, 2],
      'B recorded part 2 to its first frame',
    );
    const mp4 = await probe(ended.fileResults[0]!.location);
    const recordedByA = (killedAtMs - Number(active.startedAt / 1_000_000n)) / 1000;
    const part2Sec = (parts[1]!.lastSeenAtMs - parts[1]!.startedAtMs) / 1000;
    t.diagnostic(`file ${mp4.format.duration.toFixed(2)} s: A recorded ${recordedByA.toFixed(2)} s, part 2 ${part2Sec.toFixed(2)} s`);
    assert.deepEqual(mp4.streams.map((s) => s.codec_name).sort(), ['aac', 'h264']);
    assert.ok(mp4.format.duration > recordedByA - 1.5 && mp4.format.duration < recordedByA + 3, `${mp4.format.duration} s`);
    assert.ok(part2Sec < 3, `part 2 stopped at its first frame, not ${part2Sec} s later`);
    await workers.kill(b);
  });

  test('StopEgress while B awaits its start signal: FAILED with why, and what A recorded delivered (never lost with the part)', async (t) => {
    const leases = new EgressLeases(service.workers.ctx.redis, service.config.redis.prefix);
    const a = await workers.start(POOL);
    const started = await client.startWebEgress(`${page.url}?signal=start`, new EncodedFileOutput({ filepath: 'takeover/stopped.mp4' }), {
      awaitStartSignal: true,
    });
    const { egressId } = started;
    await waitForStatus(client, egressId, [EgressStatus.EGRESS_ACTIVE], 60_000);
    const b = await workers.start(POOL);
    await sleep(4000);
    // The page B loads keeps its start signal back: part 2 never has a first frame.
    page.holdStartSignal(true);
    t.after(() => page.holdStartSignal(false));
    a.kill('SIGKILL');
    await waitFor('B granted part 2 and running its Chromium', 60_000, async () => {
      if ((await holderPid(leases, egressId)) !== b.pid) return false;
      return (await processesOwnedBy(ownerOf(b.pid)!)).some((p) => basename(p.command).startsWith('chromium'));
    });
    await client.stopEgress(egressId);

    const ended = await waitForStatus(
      client,
      egressId,
      [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED, EgressStatus.EGRESS_ABORTED],
      60_000,
    );
    assert.equal(ended.status, EgressStatus.EGRESS_FAILED, ended.error);
    assert.match(
      ended.error,
      /after its recorder was lost recorded nothing: Stop called before pipeline could start; what was recorded until then is delivered/,
    );
    const salvaged = await waitForFileLocation(client, egressId, 60_000);
    const mp4 = await probe(salvaged.fileResults[0]!.location);
    t.diagnostic(`delivered ${mp4.format.duration.toFixed(2)} s recorded by A`);
    assert.deepEqual(mp4.streams.map((s) => s.codec_name).sort(), ['aac', 'h264']);
    assert.ok(mp4.format.duration > 2.5, `${mp4.format.duration} s`);
    await workers.kill(b);
  });
});

describe('takeover: bounded by start_deadline', { concurrency: false }, () => {
  let page: TestPage;
  let service: TestService;
  let client: EgressClient;
  let worker: ChildProcess | undefined;

  before(async () => {
    page = await startTestPage();
    service = await startService({ pools: ['upload', 'webhook'], start_deadline: 3 });
    client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
  });
  after(async () => {
    if (worker && isAlive(worker)) worker.kill('SIGKILL');
    await service?.stop();
    await page?.close();
  });

  test('no worker takes the part over within start_deadline: FAILED with the reason, as without takeovers', async () => {
    worker = spawnWorker(service, [POOL]);
    const started = await client.startWebEgress(page.url, new EncodedFileOutput({ filepath: 'takeover/unclaimed.mp4' }));
    await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE], 60_000);
    await sleep(2000);
    const killedAt = Date.now();
    worker.kill('SIGKILL');
    const failed = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_FAILED, EgressStatus.EGRESS_COMPLETE], 60_000);
    assert.equal(failed.status, EgressStatus.EGRESS_FAILED);
    assert.match(failed.error, /no worker took it over within 3 s; what was recorded until then is delivered/);
    const tookMs = Date.now() - killedAt;
    // The lease's lapse (≤ 6 s), a scan, then the deadline (3 s): well under 20 s.
    assert.ok(tookMs < 20_000, `FAILED ${tookMs} ms after the kill`);
    const queued = await service.workers.ctx.queues.get(POOL).getJob(partJobId(started.egressId, 2));
    assert.equal(queued, undefined, 'the part nobody took is out of the queue');
  });
});
