/**
 * Fenced ownership under the faults a kill does not show (issue 16 item 1): the owner partitioned from Redis
 * while it keeps running, and the owner frozen (SIGSTOP) while its lease runs out. In both, the owner must stop
 * before Redis can grant the egress to another worker (partition), or at least have every late write refused
 * (frozen: it cannot stop anything while frozen), and a worker that comes back must not resume what another
 * now owns. The owner reaches Redis through a TCP proxy (test/support/stall-proxy.ts) that stops forwarding
 * its data, so its commands hang and arrive late when the partition heals, as TCP retransmission delivers them.
 * Real redis-server, the default lease timing (lease-timing.ts); orderings are asserted, durations reported.
 */
import assert from 'node:assert/strict';
import { createInterface } from 'node:readline';
import { describe, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { EgressLeases, type AcquireResult, type Lease, type LeaseHolder } from '../../../shared/lease/egress-lease.ts';
import { fencedSet } from '../../../shared/lease/fenced-write.ts';
import { LeaseKeeper, type LostReason } from '../../../shared/lease/lease-keeper.ts';
import { LEASE_SAFETY_MARGIN_MS, LEASE_TTL_MS } from '../../../shared/lease/lease-timing.ts';
import { spawnSupervised } from '../../../workers/process/processes.ts';
import { leaseRedis } from '../../support/lease-redis.ts';
import { startStallProxy } from '../../support/stall-proxy.ts';
import { waitFor } from '../../support/wait-for.ts';

const PREFIX = 'partition-test';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ms = (value: number) => `${Math.round(value)} ms`;

describe('fenced ownership under a partition and a freeze', () => {
  /** Redis as the other workers and the test see it: never behind the proxy. */
  const suite = leaseRedis(PREFIX);

  /** worker-b's attempts, every 25 ms, until it is granted the egress: the grant and when it came. */
  const takeOver = async (egressId: string): Promise<{ lease: Lease; at: number }> => {
    const result = await waitFor(
      `worker-b to be granted ${egressId}`,
      4 * LEASE_TTL_MS,
      async () => {
        const attempt = await suite.leases.acquire(egressId, 'worker-b', LEASE_TTL_MS);
        return attempt.ok && attempt;
      },
      25,
    );
    return { lease: result.lease, at: performance.now() };
  };

  for (const fault of ['packets held', 'connection cut, reconnects held'] as const) {
    test(`partition (${fault}): the owner stops before its lease lapses, and comes back to find its token stale`, async (t: TestContext) => {
      const egressId = `EG_partition_${fault.split(' ')[0]}`;
      const resultKey = `${PREFIX}:result:${egressId}`;
      const proxy = await startStallProxy(suite.server.port);
      const owner = new Redis(proxy.port, '127.0.0.1', { maxRetriesPerRequest: null });
      const ownerLeases = new EgressLeases(owner, PREFIX);
      t.after(async () => {
        owner.disconnect();
        await proxy.close();
      });

      const grant = await ownerLeases.acquire(egressId, 'worker-a', LEASE_TTL_MS);
      assert.ok(grant.ok);
      const fence = ownerLeases.fence(grant.lease);
      assert.deepEqual(await fencedSet(owner, fence, resultKey, 'a-1'), { ok: true });

      // At onLost, at once: what Redis holds, and whether another worker could be granted the egress.
      let seenAtLost: { at: number; reason: LostReason; holder: Promise<LeaseHolder | undefined>; acquire: Promise<AcquireResult> } | undefined;
      const keeper = new LeaseKeeper(ownerLeases, grant, {
        onLost: (reason) => {
          seenAtLost = {
            at: performance.now(),
            reason,
            holder: suite.leases.holder(egressId),
            acquire: suite.leases.acquire(egressId, 'worker-b', LEASE_TTL_MS),
          };
        },
      });
      t.after(() => keeper.stop());

      // Through the proxy the keeper keeps the lease past its TTL: its renewals get through.
      await sleep(LEASE_TTL_MS + 1_000);
      assert.equal(seenAtLost, undefined, 'lost while Redis was reachable');
      assert.equal((await suite.leases.holder(egressId))?.token, grant.lease.token);

      const cutAt = performance.now();
      proxy.stall();
      if (fault !== 'packets held') proxy.drop();

      const lost = await waitFor('onLost', 2 * LEASE_TTL_MS, () => seenAtLost, 5);
      assert.equal(lost.reason.kind, 'unconfirmed');
      assert.equal(keeper.held, false);
      assert.ok(keeper.signal.aborted);
      const holderAtLost = await lost.holder;
      assert.equal(holderAtLost?.holderId, 'worker-a', 'at onLost the lease must still be in Redis');
      assert.equal(holderAtLost.token, grant.lease.token);
      assert.ok(holderAtLost.remainingMs > 0);
      const acquireAtLost = await lost.acquire;
      assert.equal(acquireAtLost.ok, false, 'at onLost no other worker can be granted the egress yet');

      const taken = await takeOver(egressId);
      assert.ok(taken.lease.token > grant.lease.token);
      assert.ok(taken.at > lost.at);
      assert.deepEqual(await fencedSet(suite.redis, suite.leases.fence(taken.lease), resultKey, 'b-1'), { ok: true });

      t.diagnostic(
        `cut → onLost ${ms(lost.at - cutAt)}; lease time left in Redis at onLost ${holderAtLost.remainingMs} ms ` +
          `(margin ${LEASE_SAFETY_MARGIN_MS} ms); onLost → worker-b granted ${ms(taken.at - lost.at)}; cut → worker-b granted ${ms(taken.at - cutAt)}`,
      );

      // The partition heals: the renewals it held back arrive, and the old owner tries to carry on.
      proxy.resume();
      assert.deepEqual(await ownerLeases.renew(grant.lease), { ok: false, reason: 'stale-token' });
      assert.deepEqual(await fencedSet(owner, fence, resultKey, 'a-late'), { ok: false, reason: 'stale-token' });
      assert.deepEqual(await ownerLeases.release(grant.lease), { ok: false, reason: 'stale-token' });
      const again = await ownerLeases.acquire(egressId, 'worker-a', LEASE_TTL_MS);
      assert.equal(again.ok, false, 'the old owner cannot take back what worker-b owns');
      assert.equal(await suite.redis.get(resultKey), 'b-1');
      const holder = await suite.leases.holder(egressId);
      assert.equal(holder?.holderId, 'worker-b');
      assert.equal(holder.token, taken.lease.token);
      assert.equal(keeper.lost?.kind, 'unconfirmed', 'onLost fired once, for the first reason');
    });
  }

  test("frozen owner (SIGSTOP): another worker is granted the egress only after the lapse, and the thawed owner's late write is refused", async (t: TestContext) => {
    const egressId = 'EG_frozen';
    const resultKey = `${PREFIX}:result:${egressId}`;
    const script = fileURLToPath(new URL('../../support/lease-holder-child.ts', import.meta.url));
    const child = spawnSupervised(
      'lease-holder',
      process.execPath,
      [script, String(suite.server.port), PREFIX, egressId, 'worker-a', String(LEASE_TTL_MS)],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    const pid = child.pid!;
    t.after(async () => {
      if (child.running) process.kill(pid, 'SIGCONT');
      child.child.stdin?.end();
      await child.kill(2_000);
    });
    const events: Record<string, unknown>[] = [];
    createInterface({ input: child.child.stdout! }).on('line', (line) => events.push(JSON.parse(line) as Record<string, unknown>));
    const event = (name: string, after = 0) =>
      waitFor(`the child's "${name}" (stderr: ${child.stderrTail(5)})`, 15_000, () => events.slice(after).find((e) => e.event === name), 10);
    const write = async (value: string) => {
      const from = events.length;
      child.child.stdin!.write(`write ${resultKey} ${value}\n`);
      return (await event('write', from)).result;
    };

    const token = Number((await event('acquired')).token);
    assert.deepEqual(await write('a-1'), { ok: true });

    const frozenAt = performance.now();
    process.kill(pid, 'SIGSTOP');
    const whileFrozen = await suite.leases.acquire(egressId, 'worker-b', LEASE_TTL_MS);
    assert.equal(whileFrozen.ok, false, "the frozen owner's lease still runs");
    assert.ok(!whileFrozen.ok && whileFrozen.holder.token === token);

    const taken = await takeOver(egressId);
    assert.ok(taken.lease.token > token);
    assert.deepEqual(await fencedSet(suite.redis, suite.leases.fence(taken.lease), resultKey, 'b-1'), { ok: true });
    assert.equal(
      events.find((e) => e.event === 'lost'),
      undefined,
      'a frozen process reports nothing',
    );

    process.kill(pid, 'SIGCONT');
    assert.deepEqual(await write('a-late'), { ok: false, reason: 'stale-token' });
    const lost = await event('lost');
    assert.ok(lost.reason, 'the thawed owner learns it lost the lease');
    assert.equal(await suite.redis.get(resultKey), 'b-1');
    assert.equal((await suite.leases.holder(egressId))?.token, taken.lease.token);
    t.diagnostic(
      `frozen → worker-b granted ${ms(taken.at - frozenAt)} (lease TTL ${LEASE_TTL_MS} ms); thawed owner's reason: ${JSON.stringify(lost.reason)}`,
    );
  });
});
