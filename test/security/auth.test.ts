/**
 * Authentication as an attacker tries it, through the whole API app (buildServer) on a real Redis: issuers that
 * are inherited property names signed with those properties' string forms, wrong algorithms, missing or odd
 * claims, expired and not-yet-valid tokens, tampering, the token in the header and in `access_token`, Basic auth
 * with prototype names, and method or file names that are Object.prototype properties. Every refusal has a
 * positive control beside it, so a test that refuses everything would fail too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { stringify } from 'yaml';
import { buildServer } from '../../api/server.ts';
import { createApiDeps, TEST_API_KEY, TEST_API_SECRET, type TestApiDeps } from '../support/api-deps.ts';
import { startRedis, type RedisServer } from '../support/redis-server.ts';
import { basic, jwt, nowSec, recordPayload } from './auth-tokens.ts';

const PATH = '/twirp/livekit.Egress/';

/** Keys named like Object.prototype members, configured for real: their own secrets work, inherited values never. */
const OWN_ODD_KEYS = { constructor: 'constructor-secret-0123456789abcdef', toString: 'tostring-secret-0123456789abcdef' };

const INHERITED = [
  '__proto__',
  'constructor',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
  '__defineGetter__',
  '__lookupGetter__',
];

/** What a lookup on a plain object would have found for `name`, as text (what TextEncoder or String() makes of it). */
function inheritedSecrets(name: string): string[] {
  const found = (Object.prototype as unknown as Record<string, unknown>)[name];
  return [
    ...new Set([
      String(found),
      '[object Object]',
      'function Object() { [native code] }',
      'undefined',
      'null',
      '',
      `function ${name}() { [native code] }`,
    ]),
  ];
}

describe('authentication: tokens an attacker makes', () => {
  let redis: RedisServer;
  let deps: TestApiDeps;
  let app: FastifyInstance;

  const list = (headers: Record<string, string>, query = '') =>
    app.inject({ method: 'POST', url: `${PATH}ListEgress${query}`, headers: { 'content-type': 'application/json', ...headers }, payload: '{}' });
  const withToken = (token: string) => list({ authorization: `Bearer ${token}` });
  const withQueryToken = (token: string) => list({}, `?access_token=${encodeURIComponent(token)}`);
  const good = () => jwt({ payload: recordPayload(TEST_API_KEY), secret: TEST_API_SECRET });

  before(async () => {
    redis = await startRedis();
    // Throttling has its own tests (auth-throttle.test.ts): here hundreds of refusals come from one address.
    deps = createApiDeps(redis.url, { EGRESS_CONFIG_BODY: stringify({ keys: OWN_ODD_KEYS, rate_limits: { failed_auth_per_minute: 1_000_000 } }) });
    app = await buildServer(deps);
  });
  after(async () => {
    await app?.close();
    await deps?.close();
    await redis?.stop();
  });

  test('control: a hand-made HS256 token of a configured key is accepted, in the header and in access_token', async () => {
    assert.equal((await withToken(good())).statusCode, 200);
    assert.equal((await withQueryToken(good())).statusCode, 200);
  });

  test('an inherited property name as iss, signed with any string form of it, is refused (header and query)', async () => {
    let tried = 0;
    for (const iss of INHERITED) {
      for (const secret of inheritedSecrets(iss)) {
        const token = jwt({ payload: recordPayload(iss), secret });
        for (const send of [withToken, withQueryToken]) {
          const res = await send(token);
          assert.equal(res.statusCode, 401, `iss ${iss} signed with "${secret}" via ${send.name}: ${res.body}`);
          assert.equal(res.json().code, 'unauthenticated');
          tried++;
        }
      }
    }
    assert.ok(tried >= INHERITED.length * 5 * 2);
  });

  test('keys named constructor and toString work with their own secrets only', async () => {
    for (const [key, secret] of Object.entries(OWN_ODD_KEYS)) {
      assert.equal((await withToken(jwt({ payload: recordPayload(key), secret }))).statusCode, 200, key);
      for (const wrong of [...inheritedSecrets(key), TEST_API_SECRET]) {
        assert.equal((await withToken(jwt({ payload: recordPayload(key), secret: wrong }))).statusCode, 401, `${key} / ${wrong}`);
      }
    }
  });

  test('an algorithm other than HS256 is refused, whatever the signature', async () => {
    const payload = recordPayload(TEST_API_KEY);
    const cases: [string, string][] = [
      ['none, no signature', jwt({ header: { alg: 'none', typ: 'JWT' }, payload })],
      ['none, HS256 signature', jwt({ header: { alg: 'none', typ: 'JWT' }, payload, secret: TEST_API_SECRET })],
      ['None', jwt({ header: { alg: 'None' }, payload })],
      ['HS512 with the right secret', jwt({ header: { alg: 'HS512', typ: 'JWT' }, payload, secret: TEST_API_SECRET, hash: 'sha512' })],
      ['HS384 with the right secret', jwt({ header: { alg: 'HS384' }, payload, secret: TEST_API_SECRET, hash: 'sha384' })],
      ['RS256 header over an HMAC of the secret', jwt({ header: { alg: 'RS256', typ: 'JWT' }, payload, secret: TEST_API_SECRET })],
      ['ES256 header', jwt({ header: { alg: 'ES256' }, payload, secret: TEST_API_SECRET })],
      ['hs256 (lower case)', jwt({ header: { alg: 'hs256' }, payload, secret: TEST_API_SECRET })],
      ['no alg', jwt({ header: { typ: 'JWT' }, payload, secret: TEST_API_SECRET })],
      ['alg as a list', jwt({ header: { alg: ['HS256'] }, payload, secret: TEST_API_SECRET })],
    ];
    for (const [name, token] of cases) {
      const res = await withToken(token);
      assert.equal(res.statusCode, 401, `${name}: ${res.body}`);
      assert.equal(res.json().code, 'unauthenticated', name);
    }
  });

  test('iss is required and must be a configured key, as a string', async () => {
    const { iss: _, ...noIss } = recordPayload(TEST_API_KEY);
    for (const [name, payload] of [
      ['no iss', noIss],
      ['empty iss', recordPayload('')],
      ['iss a number', recordPayload(123)],
      ['iss an object', recordPayload({ toString: TEST_API_KEY })],
      ['iss a list', recordPayload([TEST_API_KEY])],
      ['iss null', recordPayload(null)],
      ['unknown iss', recordPayload('not-a-key')],
      ['iss with a space', recordPayload(`${TEST_API_KEY} `)],
    ] as const) {
      const res = await withToken(jwt({ payload, secret: TEST_API_SECRET }));
      assert.equal(res.statusCode, 401, `${name}: ${res.body}`);
    }
  });

  test("exp and nbf are checked with livekit-server's one-minute leeway", async () => {
    const at = (claims: Record<string, unknown>) => withToken(jwt({ payload: recordPayload(TEST_API_KEY, claims), secret: TEST_API_SECRET }));
    assert.equal((await at({ exp: nowSec() - 3600 })).statusCode, 401, 'expired an hour ago');
    assert.equal((await at({ exp: nowSec() - 180 })).statusCode, 401, 'expired three minutes ago');
    assert.match((await at({ exp: nowSec() - 180 })).json().msg, /expired/);
    assert.equal((await at({ exp: nowSec() - 10 })).statusCode, 200, 'expired ten seconds ago: within the leeway');
    assert.equal((await at({ nbf: nowSec() + 3600 })).statusCode, 401, 'valid in an hour');
    assert.equal((await at({ nbf: nowSec() + 180 })).statusCode, 401, 'valid in three minutes');
    assert.match((await at({ nbf: nowSec() + 180 })).json().msg, /nbf/);
    assert.equal((await at({ nbf: nowSec() + 10 })).statusCode, 200, 'valid in ten seconds: within the leeway');
    assert.equal((await at({ exp: 'tomorrow' })).statusCode, 401, 'exp not a number');
    assert.equal((await at({ nbf: 'now' })).statusCode, 401, 'nbf not a number');
    const { exp: _, ...noExp } = recordPayload(TEST_API_KEY);
    assert.equal((await withToken(jwt({ payload: noExp, secret: TEST_API_SECRET }))).statusCode, 200, 'no exp: livekit-server does not require one');
  });

  test('a tampered token is refused: payload, header or signature changed after signing', async () => {
    const [header, payload, signature] = good().split('.') as [string, string, string];
    const reencode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const flip = (text: string) => (text[0] === 'A' ? 'B' : 'A') + text.slice(1);
    const cases: [string, string][] = [
      ['another iss', `${header}.${reencode({ ...claims, iss: 'constructor' })}.${signature}`],
      ['later exp', `${header}.${reencode({ ...claims, exp: claims.exp + 3600 })}.${signature}`],
      ['another sub', `${header}.${reencode({ ...claims, sub: 'admin' })}.${signature}`],
      ['a kid added to the header', `${reencode({ alg: 'HS256', typ: 'JWT', kid: 'x' })}.${payload}.${signature}`],
      ['signature changed', `${header}.${payload}.${flip(signature)}`],
      ['signature cut', `${header}.${payload}.${signature.slice(0, -2)}`],
      ['signature removed', `${header}.${payload}.`],
      ['four parts', `${header}.${payload}.${signature}.x`],
      ['grant removed, signature kept', `${header}.${reencode({ ...claims, video: {} })}.${signature}`],
    ];
    for (const [name, token] of cases) assert.equal((await withToken(token)).statusCode, 401, name);
    assert.equal((await withToken(`${header}.${payload}.${signature}`)).statusCode, 200, 'the untouched token');
  });

  test('the header wins over access_token, and a header that is not Bearer is no token', async () => {
    const bad = jwt({ payload: recordPayload(TEST_API_KEY), secret: 'wrong-secret' });
    assert.equal((await list({ authorization: `Bearer ${bad}` }, `?access_token=${good()}`)).statusCode, 401);
    assert.equal((await list({ authorization: `Bearer ${good()}` }, `?access_token=${bad}`)).statusCode, 200);
    assert.equal((await list({ authorization: basic(TEST_API_KEY, TEST_API_SECRET) })).statusCode, 401);
    assert.equal((await list({ authorization: good() })).statusCode, 401, 'no Bearer scheme');
    assert.equal((await list({}, `?access_token=${bad}`)).statusCode, 401);
    assert.equal((await list({}, `?access_token=`)).statusCode, 401);
  });

  test('a valid token without the roomRecord grant is permission_denied; grants as strings do not count', async () => {
    for (const video of [{}, { roomRecord: 'true' }, { roomRecord: 1 }, { roomAdmin: true, roomJoin: true }]) {
      const res = await withToken(jwt({ payload: recordPayload(TEST_API_KEY, { video }), secret: TEST_API_SECRET }));
      assert.equal(res.statusCode, 403, JSON.stringify(video));
      assert.equal(res.json().code, 'permission_denied');
    }
  });

  test('errors echo no secret and no token: not even a secret sent as iss by a caller who swapped key and secret', async () => {
    const swapped = jwt({ payload: recordPayload(TEST_API_SECRET), secret: TEST_API_KEY });
    const wrongSecret = jwt({ payload: recordPayload(TEST_API_KEY), secret: 'my-guess-0123456789' });
    for (const token of [swapped, wrongSecret, jwt({ header: { alg: 'none' }, payload: recordPayload(TEST_API_SECRET) })]) {
      for (const res of [await withToken(token), await withQueryToken(token)]) {
        assert.equal(res.statusCode, 401);
        for (const secret of [TEST_API_SECRET, token, token.split('.')[2]!, 'my-guess-0123456789', ...Object.values(OWN_ODD_KEYS)]) {
          if (secret) assert.ok(!res.body.includes(secret), `${res.body} echoes ${secret}`);
        }
      }
    }
  });

  test('Basic auth: prototype names as user, their string forms as password, are refused; a real key is not', async () => {
    assert.equal(
      (await app.inject({ method: 'GET', url: '/admin/queues', headers: { authorization: basic(TEST_API_KEY, TEST_API_SECRET) } })).statusCode,
      200,
    );
    for (const user of INHERITED) {
      for (const password of inheritedSecrets(user)) {
        const res = await app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: { authorization: basic(user, password) } });
        assert.equal(res.statusCode, 401, `${user}:${password}`);
      }
    }
    for (const [user, password] of Object.entries(OWN_ODD_KEYS)) {
      assert.equal(
        (await app.inject({ method: 'GET', url: '/admin/queues', headers: { authorization: basic(user, password) } })).statusCode,
        200,
        user,
      );
      // The inherited member's source text as the password: stringified, never called.
      // eslint-disable-next-line @typescript-eslint/unbound-method -- its source text is the point
      const inheritedSource = String(Object.prototype.toString);
      assert.equal(
        (await app.inject({ method: 'GET', url: '/admin/queues', headers: { authorization: basic(user, inheritedSource) } })).statusCode,
        401,
        user,
      );
    }
  });

  test('RPC names that are Object.prototype members are bad_route 404, with a valid token, never a 500', async () => {
    const authorization = `Bearer ${good()}`;
    for (const name of [...INHERITED, 'prototype', 'length', '__proto__.ListEgress', 'ListEgress.constructor', 'listegress']) {
      const res = await app.inject({
        method: 'POST',
        url: `${PATH}${encodeURIComponent(name)}`,
        headers: { authorization, 'content-type': 'application/json' },
        payload: '{}',
      });
      assert.equal(res.statusCode, 404, `${name}: ${res.body}`);
      assert.equal(res.json().code, 'bad_route', name);
    }
    assert.equal((await list({ authorization })).statusCode, 200, 'ListEgress itself');
  });

  test('template files named like Object.prototype members are 404, never a 500', async () => {
    for (const name of [...INHERITED, 'prototype']) {
      const res = await app.inject({ method: 'GET', url: `/templates/${encodeURIComponent(name)}` });
      assert.equal(res.statusCode, 404, `${name}: ${res.body}`);
    }
    assert.equal((await app.inject({ method: 'GET', url: '/templates/room.js' })).statusCode, 200);
  });
});
