/**
 * Failed authentications throttled per client address, on real API servers listening on 127.0.0.1 and a real
 * Redis. Client addresses are simulated with X-Forwarded-For from 127.0.0.1, which `trust_proxy: 127.0.0.1`
 * believes (only header values differ: every connection goes to and from 127.0.0.1); without trust_proxy the
 * header must change nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { stringify } from 'yaml';
import { buildServer } from '../../api/server.ts';
import { clientKey } from '../../shared/client-address.ts';
import { createApiDeps, TEST_API_KEY, TEST_API_SECRET, type TestApiDeps } from '../support/api-deps.ts';
import { startRedis, type RedisServer } from '../support/redis-server.ts';
import { basic, jwt, recordPayload } from './auth-tokens.ts';

const LIMIT = 5;
const GOOD = () => `Bearer ${jwt({ payload: recordPayload(TEST_API_KEY), secret: TEST_API_SECRET })}`;
const BAD = () => `Bearer ${jwt({ payload: recordPayload(TEST_API_KEY), secret: 'a-guess' })}`;

interface Api {
  deps: TestApiDeps;
  app: FastifyInstance;
  url: string;
}

async function startApi(redisUrl: string, yaml: Record<string, unknown>): Promise<Api> {
  const deps = createApiDeps(redisUrl, { EGRESS_CONFIG_BODY: stringify({ rate_limits: { failed_auth_per_minute: LIMIT }, ...yaml }) });
  const app = await buildServer(deps);
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return { deps, app, url: address };
}

const stopApi = async (api: Api | undefined) => {
  await api?.app.close();
  await api?.deps.close();
};

function rpc(api: Api, authorization: string | undefined, from?: string): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (authorization !== undefined) headers.authorization = authorization;
  if (from !== undefined) headers['x-forwarded-for'] = from;
  return fetch(`${api.url}/twirp/livekit.Egress/ListEgress`, { method: 'POST', headers, body: '{}' });
}

function board(api: Api, authorization: string | undefined, from?: string): Promise<Response> {
  const headers: Record<string, string> = {};
  if (authorization !== undefined) headers.authorization = authorization;
  if (from !== undefined) headers['x-forwarded-for'] = from;
  return fetch(`${api.url}/admin/queues/api/queues`, { headers });
}

async function fail(times: number, send: () => Promise<Response>): Promise<void> {
  for (let i = 0; i < times; i++) {
    const res = await send();
    assert.equal(res.status, 401, `failure ${i + 1} of ${times} is answered 401`);
    await res.arrayBuffer();
  }
}

async function assertThrottled(res: Response, kind: 'twirp' | 'board'): Promise<void> {
  assert.equal(res.status, 429);
  const retryAfter = Number(res.headers.get('retry-after'));
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${res.headers.get('retry-after')}`);
  const body = await res.json();
  if (kind === 'twirp') {
    assert.equal(body.code, 'resource_exhausted');
    assert.equal(body.meta.retry_after, String(retryAfter));
    assert.equal(res.headers.get('content-type'), 'application/json');
  }
}

describe('failed authentications throttled per client address', () => {
  let redis: RedisServer;
  let proxied: Api;
  let replica: Api;
  let direct: Api;

  before(async () => {
    redis = await startRedis();
    // Two replicas behind the same (loopback) proxy share one count through Redis.
    proxied = await startApi(redis.url, { trust_proxy: '127.0.0.1' });
    replica = await startApi(redis.url, { trust_proxy: '127.0.0.1' });
    // No trust_proxy: the peer address counts, whatever X-Forwarded-For says. Its own key prefix.
    direct = await startApi(redis.url, { redis: { prefix: 'direct' } });
  });
  after(async () => {
    await stopApi(proxied);
    await stopApi(replica);
    await stopApi(direct);
    await redis?.stop();
  });

  test(`after ${LIMIT} failures, a correct token from that address gets 429 with Retry-After; another address does not`, async () => {
    const [a, b] = ['127.0.0.11', '127.0.0.12'];
    assert.equal((await rpc(proxied, GOOD(), a)).status, 200, 'before any failure');
    await fail(LIMIT, () => rpc(proxied, BAD(), a));
    await assertThrottled(await rpc(proxied, GOOD(), a), 'twirp');
    await assertThrottled(await rpc(proxied, BAD(), a), 'twirp');
    await assertThrottled(await rpc(proxied, undefined, a), 'twirp');
    // Every Twirp path, a bad route included, is closed to it.
    const badRoute = await fetch(`${proxied.url}/twirp/livekit.Egress/Nope`, { method: 'POST', headers: { 'x-forwarded-for': a } });
    assert.equal(badRoute.status, 429);
    await badRoute.arrayBuffer();
    assert.equal((await rpc(proxied, GOOD(), b)).status, 200, 'another address is unaffected');
  });

  test('the count is shared by API replicas (Redis) and by the Twirp API and Bull Board', async () => {
    const c = '127.0.0.13';
    await fail(2, () => rpc(proxied, BAD(), c));
    await fail(2, () => rpc(replica, BAD(), c));
    await fail(1, () => board(replica, basic(TEST_API_KEY, 'a-guess'), c));
    await assertThrottled(await rpc(proxied, GOOD(), c), 'twirp');
    await assertThrottled(await rpc(replica, GOOD(), c), 'twirp');
    await assertThrottled(await board(proxied, basic(TEST_API_KEY, TEST_API_SECRET), c), 'board');
  });

  test('Bull Board: wrong passwords then the right one is 429 with Retry-After; no credentials at all count for nothing', async () => {
    const [d, e] = ['127.0.0.14', '127.0.0.15'];
    for (let i = 0; i < LIMIT * 2; i++) {
      const res = await board(proxied, undefined, e);
      assert.equal(res.status, 401, "a browser's first request carries no credentials");
      assert.match(res.headers.get('www-authenticate') ?? '', /^Basic /);
      await res.arrayBuffer();
    }
    assert.equal((await board(proxied, basic(TEST_API_KEY, TEST_API_SECRET), e)).status, 200);
    await fail(LIMIT, () => board(proxied, basic(TEST_API_KEY, `guess`), d));
    await assertThrottled(await board(proxied, basic(TEST_API_KEY, TEST_API_SECRET), d), 'board');
    await assertThrottled(await board(proxied, undefined, d), 'board');
  });

  test('a Twirp request with no credential is not counted; a wrong one in access_token is', async () => {
    const [f, g] = ['127.0.0.16', '127.0.0.17'];
    await fail(LIMIT * 2, () => rpc(proxied, undefined, f));
    assert.equal((await rpc(proxied, GOOD(), f)).status, 200);
    const bad = jwt({ payload: recordPayload(TEST_API_KEY), secret: 'a-guess' });
    await fail(LIMIT, () =>
      fetch(`${proxied.url}/twirp/livekit.Egress/ListEgress?access_token=${bad}`, {
        method: 'POST',
        headers: { 'x-forwarded-for': g, 'content-type': 'application/json' },
        body: '{}',
      }),
    );
    await assertThrottled(await rpc(proxied, GOOD(), g), 'twirp');
  });

  test('a success does not reset the count: one valid key cannot launder guesses', async () => {
    const h = '127.0.0.18';
    for (let i = 0; i < LIMIT; i++) {
      assert.equal((await rpc(proxied, GOOD(), h)).status, 200, `success ${i + 1}`);
      await fail(1, () => rpc(proxied, BAD(), h));
    }
    await assertThrottled(await rpc(proxied, GOOD(), h), 'twirp');
  });

  test('a burst of concurrent guesses gets no more than the limit answered; the rest, a right one among them, 429', async () => {
    const m = '127.0.0.20';
    const answers = await Promise.all(Array.from({ length: LIMIT * 8 }, () => rpc(proxied, BAD(), m)));
    const statuses = answers.map((res) => res.status);
    await Promise.all(answers.map((res) => res.arrayBuffer()));
    assert.equal(statuses.filter((status) => status === 401).length, LIMIT, statuses.join(' '));
    assert.equal(statuses.filter((status) => status === 429).length, LIMIT * 7);
    await assertThrottled(await rpc(proxied, GOOD(), m), 'twirp');
    // A right token hidden in a burst of wrong ones: past the limit it is answered as they are.
    const q = '127.0.0.23';
    const burst = Array.from({ length: LIMIT * 8 }, (_, i) => (i === LIMIT * 6 ? GOOD() : BAD()));
    const mixed = await Promise.all(burst.map((authorization) => rpc(proxied, authorization, q)));
    await Promise.all(mixed.map((res) => res.arrayBuffer()));
    const answered = mixed.filter((res) => res.status !== 429).length;
    assert.ok(answered <= LIMIT + 1, `${answered} of ${burst.length} answered other than 429`);
    assert.equal(mixed.filter((res) => res.status === 401).length <= LIMIT, true);
    const n = '127.0.0.21';
    const boardAnswers = await Promise.all(Array.from({ length: LIMIT * 4 }, () => board(proxied, basic(TEST_API_KEY, 'guess'), n)));
    assert.equal(boardAnswers.filter((res) => res.status === 401).length, LIMIT);
    await Promise.all(boardAnswers.map((res) => res.arrayBuffer()));
  });

  test('right credentials take nothing from the count: many at once from one address all go through', async () => {
    const p = '127.0.0.22';
    for (let i = 0; i < LIMIT * 2; i++) assert.equal((await rpc(proxied, GOOD(), p)).status, 200);
    // A client firing its RPCs in parallel (the load test sends 200 Starts at once) is never taken for a guesser.
    const together = await Promise.all(Array.from({ length: LIMIT * 10 }, () => rpc(proxied, GOOD(), p)));
    assert.deepEqual(
      together.map((res) => res.status),
      Array(LIMIT * 10).fill(200),
    );
    await Promise.all(together.map((res) => res.arrayBuffer()));
    const boards = await Promise.all(Array.from({ length: LIMIT * 4 }, () => board(proxied, basic(TEST_API_KEY, TEST_API_SECRET), p)));
    assert.deepEqual(
      boards.map((res) => res.status),
      Array(LIMIT * 4).fill(200),
    );
    await Promise.all(boards.map((res) => res.arrayBuffer()));
    assert.equal((await board(proxied, basic(TEST_API_KEY, TEST_API_SECRET), p)).status, 200);
    assert.equal(Number((await proxied.deps.redis.get(`egress:authfail:${p}`)) ?? 0), 0);
    // A valid token without the grant is permission_denied, not a failed authentication.
    const noGrant = `Bearer ${jwt({ payload: recordPayload(TEST_API_KEY, { video: { roomJoin: true } }), secret: TEST_API_SECRET })}`;
    for (let i = 0; i < LIMIT * 2; i++) assert.equal((await rpc(proxied, noGrant, p)).status, 403);
    assert.equal((await rpc(proxied, GOOD(), p)).status, 200);
  });

  test('IPv6 clients are counted by /64: rotating the interface id does not escape', async () => {
    for (let i = 1; i <= LIMIT; i++) await fail(1, () => rpc(proxied, BAD(), `2001:db8:0:7::${i.toString(16)}`));
    await assertThrottled(await rpc(proxied, GOOD(), '2001:db8:0:7:ffff:1:2:3'), 'twirp');
    assert.equal((await rpc(proxied, GOOD(), '2001:db8:0:8::1')).status, 200, 'another /64');
    assert.equal(clientKey('::ffff:127.0.0.1'), '127.0.0.1');
    assert.equal(clientKey('2001:DB8:0:7:0:0:0:1'), '2001:db8:0:7::/64');
    assert.equal(clientKey('[2001:db8::1%eth0]'), '2001:db8:0:0::/64');
    assert.match(clientKey('not an address'), /^other:[0-9a-f]{32}$/);
  });

  test('the throttle ends with its window', async () => {
    const k = '127.0.0.19';
    await fail(LIMIT, () => rpc(proxied, BAD(), k));
    await assertThrottled(await rpc(proxied, GOOD(), k), 'twirp');
    // The window is a Redis expiry: end it now rather than wait a minute.
    const key = `${proxied.deps.config.redis.prefix}:authfail:${k}`;
    assert.ok((await proxied.deps.redis.pttl(key)) > 0, 'the window has an expiry');
    await proxied.deps.redis.del(key);
    assert.equal((await rpc(proxied, GOOD(), k)).status, 200);
  });

  test('without trust_proxy, a spoofed X-Forwarded-For does not escape the throttle', async () => {
    for (let i = 0; i < LIMIT; i++) await fail(1, () => rpc(direct, BAD(), `127.0.1.${i}`));
    await assertThrottled(await rpc(direct, GOOD(), '127.0.2.1'), 'twirp');
    await assertThrottled(await rpc(direct, GOOD()), 'twirp');
    await assertThrottled(await board(direct, basic(TEST_API_KEY, TEST_API_SECRET), '127.0.2.2'), 'board');
    // It was the peer address that was counted.
    assert.ok((await direct.deps.redis.exists('direct:authfail:127.0.0.1')) === 1);
  });
});
