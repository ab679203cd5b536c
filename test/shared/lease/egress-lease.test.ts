/**
 * The recording lease and fenced writes against a real redis-server: grants are exclusive, fencing tokens
 * strictly increase, and once a token is stale (or its lease lapsed) its renewals, releases and writes are
 * refused and change nothing (the EgressInfo record, the segment log, the part log). Partitions and frozen owners: partition.test.ts; the keeper's timing:
 * lease-keeper.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EgressInfo, EgressStatus } from '@livekit/protocol';
import { EgressStore } from '../../../shared/egress-store.ts';
import type { Lease } from '../../../shared/lease/egress-lease.ts';
import { fencedCompareAndSet } from '../../../shared/lease/fenced-compare-and-set.ts';
import { fencedHset, fencedSet } from '../../../shared/lease/fenced-write.ts';
import { redisKeys, RETENTION_SEC } from '../../../shared/redis-keys.ts';
import { SegmentLog } from '../../../shared/segment-log.ts';
import { PartLog } from '../../../shared/takeover/part-log.ts';
import { leaseRedis } from '../../support/lease-redis.ts';
import { waitFor } from '../../support/wait-for.ts';

const PREFIX = 'lease-test';
/** Long enough never to lapse during a test that does not wait for it. */
const LONG_TTL_MS = 60_000;
/** Short, for the tests that wait for a lapse. */
const SHORT_TTL_MS = 300;

describe('recording lease (shared/lease/egress-lease.ts)', () => {
  const suite = leaseRedis(PREFIX);
  let n = 0;
  const newEgressId = () => `EG_lease_${++n}`;

  const acquired = async (egressId: string, holderId: string, ttlMs = LONG_TTL_MS): Promise<Lease> => {
    const result = await suite.leases.acquire(egressId, holderId, ttlMs);
    assert.ok(result.ok, `${holderId} should have been granted ${egressId}: ${JSON.stringify(result)}`);
    return result.lease;
  };
  /** Waits until Redis has dropped the lease by its expiry, then grants it to `holderId`. */
  const acquiredAfterLapse = async (egressId: string, holderId: string): Promise<Lease> => {
    await waitFor(`the lease on ${egressId} to lapse`, 10_000, async () => (await suite.leases.holder(egressId)) === undefined, 20);
    return acquired(egressId, holderId);
  };

  test('tokens strictly increase across grants, whether the lease was released or lapsed', async () => {
    const egressId = newEgressId();
    const tokens: number[] = [];
    for (let i = 0; i < 4; i++) {
      const lease = await acquired(egressId, `worker-${i}`);
      tokens.push(lease.token);
      assert.deepEqual(await suite.leases.release(lease), { ok: true });
    }
    tokens.push((await acquired(egressId, 'short', SHORT_TTL_MS)).token);
    tokens.push((await acquiredAfterLapse(egressId, 'after-lapse')).token);
    for (let i = 1; i < tokens.length; i++) assert.ok(tokens[i]! > tokens[i - 1]!, `tokens ${tokens.join(', ')} must strictly increase`);
    // Another egress has a counter of its own.
    assert.equal((await acquired(newEgressId(), 'other')).token, 1);
  });

  test('a second acquire while the lease is held fails and names the holder', async () => {
    const egressId = newEgressId();
    const first = await acquired(egressId, 'worker-a');
    const second = await suite.leases.acquire(egressId, 'worker-b', LONG_TTL_MS);
    assert.equal(second.ok, false);
    assert.ok(!second.ok);
    assert.equal(second.reason, 'held');
    assert.equal(second.holder.holderId, 'worker-a');
    assert.equal(second.holder.token, first.token);
    assert.ok(second.holder.remainingMs > 0 && second.holder.remainingMs <= LONG_TTL_MS);
    // Nor does the holder itself get a second grant.
    assert.equal((await suite.leases.acquire(egressId, 'worker-a', LONG_TTL_MS)).ok, false);
    const holder = await suite.leases.holder(egressId);
    assert.equal(holder?.holderId, 'worker-a');
    assert.equal(holder.token, first.token);
  });

  test("after a lapse a second holder gets a larger token; the first one's renew and release are refused", async () => {
    const egressId = newEgressId();
    const first = await acquired(egressId, 'worker-a', SHORT_TTL_MS);
    const second = await acquiredAfterLapse(egressId, 'worker-b');
    assert.ok(second.token > first.token);
    assert.deepEqual(await suite.leases.renew(first), { ok: false, reason: 'stale-token' });
    assert.deepEqual(await suite.leases.release(first), { ok: false, reason: 'stale-token' });
    const holder = await suite.leases.holder(egressId);
    assert.equal(holder?.holderId, 'worker-b');
    assert.equal(holder?.token, second.token);
    assert.ok(holder.remainingMs > SHORT_TTL_MS, 'the refused renew must not have touched the new lease');
  });

  test('a lapsed lease nobody took is not renewed: its owner must acquire again, with a new token', async () => {
    const egressId = newEgressId();
    const lease = await acquired(egressId, 'worker-a', SHORT_TTL_MS);
    await waitFor('the lapse', 10_000, async () => (await suite.leases.holder(egressId)) === undefined, 20);
    assert.deepEqual(await suite.leases.renew(lease), { ok: false, reason: 'lapsed' });
    assert.deepEqual(await suite.leases.release(lease), { ok: false, reason: 'lapsed' });
    assert.equal(await suite.leases.holder(egressId), undefined);
    assert.ok((await acquired(egressId, 'worker-a')).token > lease.token);
  });

  test('renew extends the lease from now; release frees it at once', async () => {
    const egressId = newEgressId();
    const lease = await acquired(egressId, 'worker-a', 2_000);
    await suite.redis.pexpire(`${PREFIX}:lease:${egressId}`, 100); // almost lapsed…
    assert.deepEqual(await suite.leases.renew(lease), { ok: true });
    assert.ok((await suite.leases.holder(egressId))!.remainingMs > 1_000, '…and renewed for its whole TTL');
    assert.deepEqual(await suite.leases.release(lease), { ok: true });
    assert.equal(await suite.leases.holder(egressId), undefined);
    assert.ok((await acquired(egressId, 'worker-b')).token > lease.token);
  });

  test('the token counter is kept for RETENTION_SEC, refreshed by every grant and renewal', async () => {
    const egressId = newEgressId();
    const lease = await acquired(egressId, 'worker-a');
    const fenceKey = redisKeys.leaseFence(PREFIX, egressId);
    await suite.redis.expire(fenceKey, 60);
    await suite.leases.renew(lease);
    assert.ok((await suite.redis.ttl(fenceKey)) > RETENTION_SEC - 60);
  });

  test('fenced SET and HSET apply with the current token; with a stale one they are refused and change nothing', async () => {
    const egressId = newEgressId();
    const first = await acquired(egressId, 'worker-a', SHORT_TTL_MS);
    const key = `${PREFIX}:result:${egressId}`;
    const hash = `${PREFIX}:progress:${egressId}`;
    assert.deepEqual(await fencedSet(suite.redis, suite.leases.fence(first), key, 'from-a'), { ok: true });
    assert.deepEqual(await fencedHset(suite.redis, suite.leases.fence(first), hash, { segments: '3', owner: 'a' }), { ok: true });

    const second = await acquiredAfterLapse(egressId, 'worker-b');
    assert.deepEqual(await fencedSet(suite.redis, suite.leases.fence(second), key, 'from-b', 3600), { ok: true });
    assert.deepEqual(await fencedHset(suite.redis, suite.leases.fence(second), hash, { segments: '5', owner: 'b' }), { ok: true });

    assert.deepEqual(await fencedSet(suite.redis, suite.leases.fence(first), key, 'late-from-a'), { ok: false, reason: 'stale-token' });
    assert.deepEqual(await fencedHset(suite.redis, suite.leases.fence(first), hash, { segments: '4', owner: 'a' }), {
      ok: false,
      reason: 'stale-token',
    });
    assert.equal(await suite.redis.get(key), 'from-b');
    assert.ok((await suite.redis.ttl(key)) > 3000, 'the refused SET must not have touched the expiry either');
    assert.deepEqual(await suite.redis.hgetall(hash), { segments: '5', owner: 'b' });

    // Once the owner released, its own token is no good either.
    await suite.leases.release(second);
    assert.deepEqual(await fencedSet(suite.redis, suite.leases.fence(second), key, 'after-release'), { ok: false, reason: 'lapsed' });
    assert.equal(await suite.redis.get(key), 'from-b');
  });

  test("the segment log and the part log, fenced: the owner's writes land; a stale owner's are refused and change nothing", async () => {
    const egressId = newEgressId();
    const segments = new SegmentLog(suite.redis, { prefix: PREFIX, ttlSeconds: 3600 });
    const parts = new PartLog(suite.redis, { prefix: PREFIX, ttlSeconds: 3600 });
    const segment = (filename: string) => ({ filename, key: filename, durationSec: 2, startedAtMs: 1, sizeBytes: 10 });
    const part = (n: number) => ({ part: n, workerId: `worker-${n}`, workDir: `/tmp/part-${n}`, startedAtMs: n * 1000 });

    const first = await acquired(egressId, 'worker-a', SHORT_TTL_MS);
    const asFirst = { segments: segments.withFence(suite.leases.fence(first)), parts: parts.withFence(suite.leases.fence(first)) };
    assert.equal(await asFirst.segments.append(egressId, segment('a-0.ts')), 1);
    await asFirst.parts.started(egressId, part(1));
    const second = await acquiredAfterLapse(egressId, 'worker-b');
    const asSecond = { segments: segments.withFence(suite.leases.fence(second)), parts: parts.withFence(suite.leases.fence(second)) };
    assert.equal(await asSecond.segments.append(egressId, segment('b-1.ts')), 2);
    await asSecond.parts.started(egressId, part(2));

    // The first owner, back late: nothing it writes lands.
    await assert.rejects(asFirst.segments.append(egressId, segment('a-late.ts')), /segment log append refused: another worker owns the egress now/);
    await assert.rejects(asFirst.parts.seen(egressId, 1, 99_000), /part log write refused: another worker owns the egress now/);
    assert.deepEqual(
      (await segments.list(egressId)).map((s) => s.filename),
      ['a-0.ts', 'b-1.ts'],
    );
    assert.deepEqual(
      (await parts.list(egressId)).map((p) => [p.part, p.lastSeenAtMs]),
      [
        [1, 1000],
        [2, 2000],
      ],
    );
    assert.ok((await suite.redis.ttl(`${redisKeys.parts(PREFIX)}:${egressId}`)) > 3000, "the part log's expiry set by the fenced write");
    assert.ok((await suite.redis.ttl(`${redisKeys.segments(PREFIX)}:${egressId}`)) > 3000, "the segment log's expiry set by the fenced append");
  });

  test("fenced compare-and-set of an EgressInfo record: the owner's applies, a stale owner's is refused", async () => {
    const egressId = newEgressId();
    const store = new EgressStore(suite.redis, { prefix: PREFIX, ttlSeconds: 3600 });
    await store.create(
      new EgressInfo({ egressId, roomName: 'room', status: EgressStatus.EGRESS_STARTING, startedAt: BigInt(Date.now()) * 1_000_000n }),
    );
    // The store's record key (EgressStore.infoKey, private there).
    const infoKey = `${redisKeys.store(PREFIX)}:info:${egressId}`;
    const withStatus = (info: EgressInfo, status: EgressStatus) => Buffer.from(new EgressInfo({ ...info, status }).toBinary());

    const first = await acquired(egressId, 'worker-a', SHORT_TTL_MS);
    let before = (await suite.redis.getBuffer(infoKey))!;
    const active = withStatus(EgressInfo.fromBinary(before), EgressStatus.EGRESS_ACTIVE);
    assert.deepEqual(await fencedCompareAndSet(suite.redis, suite.leases.fence(first), infoKey, before, active, 0), { ok: true });
    assert.equal((await store.get(egressId))?.status, EgressStatus.EGRESS_ACTIVE);
    // Someone else wrote since `before` was read: retry, as the store's CAS loop does.
    assert.deepEqual(await fencedCompareAndSet(suite.redis, suite.leases.fence(first), infoKey, before, active, 0), { ok: false, reason: 'changed' });

    const second = await acquiredAfterLapse(egressId, 'worker-b');
    before = (await suite.redis.getBuffer(infoKey))!;
    const failed = withStatus(EgressInfo.fromBinary(before), EgressStatus.EGRESS_FAILED);
    assert.deepEqual(await fencedCompareAndSet(suite.redis, suite.leases.fence(first), infoKey, before, failed, 3600), {
      ok: false,
      reason: 'stale-token',
    });
    assert.equal((await store.get(egressId))?.status, EgressStatus.EGRESS_ACTIVE);
    assert.equal(await suite.redis.ttl(infoKey), -1, "a refused write must not set the record's expiry");
    const ending = withStatus(EgressInfo.fromBinary(before), EgressStatus.EGRESS_ENDING);
    assert.deepEqual(await fencedCompareAndSet(suite.redis, suite.leases.fence(second), infoKey, before, ending, 0), { ok: true });
    assert.equal((await store.get(egressId))?.status, EgressStatus.EGRESS_ENDING);
  });
});
