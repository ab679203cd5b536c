/** The Basic credentials check behind Bull Board, on its own: no Redis, no server. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAuthorized } from '../../../api/admin/basic-auth.ts';

const keys = new Map(Object.entries({ APIkey1: 'secret:with:colons', other: 'x'.repeat(40) }));
const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`;

test('a key with its own secret is accepted, whatever the secret contains', () => {
  assert.ok(isAuthorized(basic('APIkey1:secret:with:colons'), keys));
  assert.ok(isAuthorized(basic(`other:${'x'.repeat(40)}`), keys));
  assert.ok(isAuthorized(basic('APIkey1:secret:with:colons').replace('Basic', 'basic'), keys));
});

test('anything else is refused', () => {
  for (const header of [
    undefined,
    '',
    basic('APIkey1:secret'),
    basic(`APIkey1:${'x'.repeat(40)}`), // another key's secret
    basic('unknown:secret:with:colons'),
    basic('APIkey1'),
    basic(':secret:with:colons'),
    basic('__proto__:'),
    basic('toString:'),
    'Bearer abc',
    'Basic not base64!',
  ]) {
    assert.equal(isAuthorized(header, keys), false, String(header));
  }
});
