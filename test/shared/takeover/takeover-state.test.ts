/**
 * The control side of a takeover against a real redis-server: a part begins once, only while it is the current
 * one (a stale job of an earlier part, or a second job of the same part, does nothing), the reaper advances the
 * part once however many scans or API replicas race, and a recording owner's EgressInfo writes (EgressStore
 * withFence) land only while its lease holds.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EgressInfo, EgressStatus } from '@livekit/protocol';
import { EgressStore } from '../../../shared/egress-store.ts';
import { TakeoverState } from '../../../shared/takeover/takeover-state.ts';
import { leaseRedis } from '../../support/lease-redis.ts';

const PREFIX = 'takeover-test';
const TTL_MS = 60_000;

describe('takeover state (shared/takeover/takeover-state.ts) and fenced EgressInfo writes', () => {
  const suite = leaseRedis(PREFIX);
  let n = 0;
  const newEgressId = () => `EG_takeover_${++n}`;
  const state = () => new TakeoverState(suite.redis, PREFIX);

  test('part 1 begins once; the reaper advances it once; part 2 begins once; a stale part-1 job cannot begin', async () => {
    const egressId = newEgressId();
    const takeovers = state();
    assert.deepEqual(await takeovers.progress(egressId), { part: 1, begun: false });
    assert.equal(await takeovers.advance(egressId, 1, 1000), false, 'nothing to take over before part 1 began');
    assert.equal(await takeovers.begin(egressId, 1, 1), true);
    assert.equal(await takeovers.begin(egressId, 1, 2), false, 'a second grant of part 1 (a stalled job back) does not record it');
    // Two scans (or two API replicas) at once: exactly one advances.
    const raced = await Promise.all([takeovers.advance(egressId, 1, 2000), takeovers.advance(egressId, 1, 2001)]);
    assert.deepEqual(raced.filter(Boolean).length, 1);
    const progress = await takeovers.progress(egressId);
    assert.equal(progress.part, 2);
    assert.equal(progress.begun, false);
    assert.ok(progress.lostAtMs === 2000 || progress.lostAtMs === 2001);
    assert.equal(await takeovers.advance(egressId, 2, 3000), false, 'part 2 has not begun: it is waiting, not lost');
    assert.equal(await takeovers.begin(egressId, 1, 3), false, 'part 1 is superseded');
    assert.equal(await takeovers.begin(egressId, 2, 4), true);
    assert.equal(await takeovers.begin(egressId, 2, 5), false);
    assert.deepEqual(await takeovers.progress(egressId), { part: 2, lostAtMs: progress.lostAtMs, begun: true });
  });

  test("a fenced EgressInfo write lands while its lease holds, and is refused once another worker's token holds it", async () => {
    const egressId = newEgressId();
    const store = new EgressStore(suite.redis, { prefix: PREFIX, ttlSeconds: 60 });
    await store.create(new EgressInfo({ egressId, status: EgressStatus.EGRESS_ACTIVE, startedAt: 1n }));
    const a = await suite.leases.acquire(egressId, 'worker-a', TTL_MS);
    assert.ok(a.ok);
    const asA = store.withFence(suite.leases.fence(a.lease));
    const written = await asA.update(egressId, (info) => void (info.details = 'by A'));
    assert.deepEqual([written?.changed, written?.refused, written?.info.details], [true, undefined, 'by A']);

    await suite.leases.release(a.lease);
    const b = await suite.leases.acquire(egressId, 'worker-b', TTL_MS);
    assert.ok(b.ok);
    const late = await asA.update(egressId, (info) => void (info.status = EgressStatus.EGRESS_ENDING));
    assert.deepEqual([late?.changed, late?.refused], [false, 'stale-token']);
    const stored = await store.get(egressId);
    assert.equal(stored?.status, EgressStatus.EGRESS_ACTIVE, "A's late write did not land");
    assert.equal(stored?.details, 'by A');
    const asB = store.withFence(suite.leases.fence(b.lease));
    assert.equal((await asB.update(egressId, (info) => void (info.details = 'by B')))?.changed, true);
  });
});
