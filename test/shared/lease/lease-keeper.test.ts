/**
 * The owner's side of the lease (shared/lease/lease-keeper.ts): it keeps a lease alive for as long as its
 * renewals are confirmed, gives it up when one is refused, and fences itself off on its own timer, counted from
 * when its last successful renew request was sent, when renewals hang. Stand-in renewers where only the timing
 * matters; a real redis-server where Redis's answer does. Assertions are orderings and lower bounds, with
 * generous slack, so that a loaded machine cannot fail them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Lease } from '../../../shared/lease/egress-lease.ts';
import type { FencedResult } from '../../../shared/lease/fence.ts';
import { LeaseKeeper, LeaseLostError, type LeaseRenewer, type LostReason } from '../../../shared/lease/lease-keeper.ts';
import { LEASE_RENEW_EVERY_MS, LEASE_SAFETY_MARGIN_MS, LEASE_TTL_MS } from '../../../shared/lease/lease-timing.ts';
import { redisKeys } from '../../../shared/redis-keys.ts';
import { leaseRedis } from '../../support/lease-redis.ts';
import { waitFor } from '../../support/wait-for.ts';

const PREFIX = 'keeper-test';
const lease = (ttlMs: number): Lease => ({ egressId: 'EG_keeper', holderId: 'worker-a', token: 1, ttlMs });
const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
const never = () => new Promise<FencedResult>(() => undefined);

/** A renewer whose every renew request is recorded (send time) and answered by `answer`. */
function standIn(answer: (call: number) => Promise<FencedResult>) {
  const sent: number[] = [];
  const renewer: LeaseRenewer = {
    renew: () => {
      sent.push(performance.now());
      return answer(sent.length);
    },
    release: async () => ({ ok: true }),
  };
  return { renewer, sent };
}

/** A keeper and a promise of its onLost (with when it came). */
function keep(
  renewer: LeaseRenewer,
  grant: { lease: Lease; sentAt: number },
  options: { renewEveryMs?: number; safetyMarginMs?: number; onError?: (err: Error) => void } = {},
) {
  let resolveLost: (value: { reason: LostReason; at: number }) => void = () => undefined;
  const lost = new Promise<{ reason: LostReason; at: number }>((resolve) => (resolveLost = resolve));
  const keeper = new LeaseKeeper(renewer, grant, { ...options, onLost: (reason) => resolveLost({ reason, at: performance.now() }) });
  return { keeper, lost };
}

describe('lease keeper: timing (stand-in renewers)', () => {
  test('renewals that hang: it fences itself off on its own timer, no earlier than ttl − margin after the grant was sent', async () => {
    const baseline = timers();
    const { renewer, sent } = standIn(never);
    const grant = { lease: lease(1_500), sentAt: performance.now() };
    const { keeper, lost } = keep(renewer, grant, { renewEveryMs: 300, safetyMarginMs: 500 });
    assert.equal(keeper.held, true);
    const { reason, at } = await lost;
    assert.equal(reason.kind, 'unconfirmed');
    assert.ok(at >= grant.sentAt + 1_000, `lost ${Math.round(at - grant.sentAt)} ms after the grant, before ttl − margin`);
    assert.ok(sent.length >= 2, 'a hung renewal must not hold back the next ones');
    assert.equal(keeper.held, false);
    assert.ok(keeper.signal.aborted);
    assert.ok(keeper.signal.reason instanceof LeaseLostError);
    assert.equal(timers(), baseline, 'no timer left once lost');
  });

  test('the deadline counts from when the last successful renewal was sent, not from its answer', async () => {
    // The defaults: renew at 2 s, answered 2 s later (before the grant's deadline at 5 s); later renewals hang.
    let answeredAt = 0;
    const { renewer, sent } = standIn(async (call) => {
      if (call > 1) return never();
      await new Promise((resolve) => setTimeout(resolve, LEASE_RENEW_EVERY_MS));
      answeredAt = performance.now();
      return { ok: true };
    });
    const grant = { lease: lease(LEASE_TTL_MS), sentAt: performance.now() };
    const { keeper, lost } = keep(renewer, grant);
    const { reason, at } = await lost;
    const validMs = LEASE_TTL_MS - LEASE_SAFETY_MARGIN_MS;
    assert.equal(reason.kind, 'unconfirmed');
    assert.ok(answeredAt > 0 && answeredAt < grant.sentAt + validMs, 'the first renewal was confirmed in time');
    assert.ok(at >= sent[0]! + validMs, 'not before ttl − margin after that renewal was sent');
    // Counted from the answer it would have come 2 s later still; a timer 2 s late is not a loaded machine.
    assert.ok(at < answeredAt + validMs, `lost ${Math.round(at - sent[0]!)} ms after the renewal was sent: counted from its answer`);
    keeper.stop();
  });

  test('an onLost or onError that throws does not escape', async () => {
    const errors: Error[] = [];
    const { renewer } = standIn(async () => ({ ok: false, reason: 'stale-token' }));
    const keeper = new LeaseKeeper(
      renewer,
      { lease: lease(1_500), sentAt: performance.now() },
      {
        renewEveryMs: 100,
        onLost: () => {
          throw new Error('onLost failed');
        },
        onError: (err) => {
          errors.push(err);
          throw new Error('onError failed too');
        },
      },
    );
    await waitFor('the refusal', 5_000, () => keeper.lost);
    assert.deepEqual(keeper.lost, { kind: 'refused', refusal: 'stale-token' });
    assert.deepEqual(
      errors.map((e) => e.message),
      ['onLost failed'],
    );
  });

  test('renewals that fail are retried; stop() ends it silently, leaving no timer', async () => {
    const baseline = timers();
    const errors: Error[] = [];
    const { renewer, sent } = standIn(async (call) => (call % 2 ? Promise.reject(new Error('connection reset')) : { ok: true }));
    const { keeper, lost } = keep(
      renewer,
      { lease: lease(3_000), sentAt: performance.now() },
      { renewEveryMs: 200, onError: (err) => errors.push(err) },
    );
    let lostEarly = false;
    void lost.then(() => (lostEarly = true));
    await waitFor('a few renewals', 10_000, () => sent.length >= 6);
    assert.equal(keeper.held, true);
    assert.ok(errors.length >= 3 && errors.every((e) => e.message === 'connection reset'));
    keeper.stop();
    keeper.stop();
    assert.equal(timers(), baseline);
    assert.equal(keeper.held, false);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(lostEarly, false, 'stop() is not a loss');
    assert.equal(keeper.signal.aborted, false);
  });

  test('settings that leave no room to renew are refused', () => {
    const { renewer } = standIn(never);
    const grant = { lease: lease(1_000), sentAt: performance.now() };
    assert.throws(() => new LeaseKeeper(renewer, grant, { safetyMarginMs: 1_000 }), RangeError);
    assert.throws(() => new LeaseKeeper(renewer, grant, { renewEveryMs: 800, safetyMarginMs: 300 }), RangeError);
  });
});

describe('lease keeper: against Redis', () => {
  const suite = leaseRedis(PREFIX);

  test('keeps a lease for several TTLs; after stop() it lapses, after release() it is free at once', async () => {
    const grant = await suite.leases.acquire('EG_kept', 'worker-a', 1_500);
    assert.ok(grant.ok);
    const { keeper, lost } = keep(suite.leases, grant, { renewEveryMs: 500, safetyMarginMs: 500 });
    let lostEarly = false;
    void lost.then(() => (lostEarly = true));
    await new Promise((resolve) => setTimeout(resolve, 4_500));
    assert.equal(lostEarly, false);
    assert.equal(keeper.held, true);
    assert.equal((await suite.leases.holder('EG_kept'))?.token, grant.lease.token, "three TTLs on, the lease is still the grant's");
    keeper.stop();
    await waitFor('the lapse', 10_000, async () => (await suite.leases.holder('EG_kept')) === undefined);

    const again = await suite.leases.acquire('EG_kept', 'worker-a', 1_500);
    assert.ok(again.ok && again.lease.token > grant.lease.token);
    assert.deepEqual(await new LeaseKeeper(suite.leases, again, { safetyMarginMs: 500 }).release(), { ok: true });
    assert.equal(await suite.leases.holder('EG_kept'), undefined);
  });

  test('a renewal refused because another token took the lease ends ownership at once', async () => {
    const grant = await suite.leases.acquire('EG_taken', 'worker-a', 3_000);
    assert.ok(grant.ok);
    const { keeper, lost } = keep(suite.leases, grant, { renewEveryMs: 200 });
    // The lease vanishes under the keeper (as after a lapse it did not notice) and worker-b takes it.
    await suite.redis.del(redisKeys.lease(PREFIX, 'EG_taken'));
    const taken = await suite.leases.acquire('EG_taken', 'worker-b', 60_000);
    assert.ok(taken.ok);
    const { reason } = await lost;
    assert.deepEqual(reason, { kind: 'refused', refusal: 'stale-token' });
    assert.equal(keeper.held, false);
    assert.equal((await suite.leases.holder('EG_taken'))?.holderId, 'worker-b');
  });
});
