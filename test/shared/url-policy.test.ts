/**
 * url_policy: which pages a recorder may open. The resolver is injected (the answers a DNS server would
 * give), so each case states exactly which address a name stands for.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EgressError } from '../../shared/errors.ts';
import { checkUrl, type UrlPolicy } from '../../shared/url-policy.ts';

const OPEN: UrlPolicy = { allow: [], deny: [], denyPrivate: false };
const dns: Record<string, string[]> = {
  'example.com': ['93.184.215.14'],
  'app.example.com': ['93.184.215.15'],
  'rebind.attacker.test': ['169.254.169.254'],
  'mixed.attacker.test': ['93.184.215.16', 'fd00:ec2::254'],
  'intranet.corp': ['10.1.2.3'],
  localhost: ['127.0.0.1', '::1'],
};
const resolver = async (host: string) => {
  const found = dns[host];
  if (!found) throw new Error(`ENOTFOUND ${host}`);
  return found;
};

const allowed = (url: string, policy = OPEN) => checkUrl(url, 'url', policy, resolver);
const refused = (url: string, policy = OPEN, why?: RegExp) =>
  assert.rejects(checkUrl(url, 'url', policy, resolver), (err: EgressError) => {
    assert.equal(err.code, 'EGR_ERR_PERMISSION_DENIED');
    assert.equal(err.twirp, 'permission_denied');
    assert.match(err.message, /^url: /);
    if (why) assert.match(err.message, why);
    return true;
  });

describe('url_policy', () => {
  test('cloud metadata services are always refused, however the address is written', async () => {
    for (const url of [
      'http://169.254.169.254/latest/meta-data/',
      'http://169.254.170.2/v2/credentials',
      'http://2852039166/', // 169.254.169.254 as one number
      'http://0xa9fea9fe/',
      'http://[::ffff:169.254.169.254]/',
      'http://[fd00:ec2::254]/',
      'http://[fe80::1]/',
      'http://100.100.100.200/',
      'http://metadata.google.internal/computeMetadata/v1/',
      'http://METADATA.GOOGLE.INTERNAL./',
      'http://0.0.0.0:8080/',
    ]) {
      await refused(url, OPEN);
    }
  });

  test('a name that resolves to a denied address is refused (any of its addresses)', async () => {
    await refused('https://rebind.attacker.test/', OPEN, /resolves to 169\.254\.169\.254/);
    await refused('https://mixed.attacker.test/', OPEN, /fd00:ec2::254/);
  });

  test('public and (by default) private pages are allowed; deny_private refuses loopback and private networks', async () => {
    await allowed('https://example.com/dashboard');
    await allowed('http://localhost:3000/');
    await allowed('http://intranet.corp/');
    await allowed('http://unresolvable.invalid/'); // the page would not load; the recorder reports that
    const strict: UrlPolicy = { ...OPEN, denyPrivate: true };
    await refused('http://localhost:3000/', strict);
    await refused('http://127.0.0.1/', strict);
    await refused('http://[::1]/', strict);
    await refused('http://intranet.corp/', strict, /10\.1\.2\.3/);
    await allowed('https://example.com/', strict);
  });

  test('allow: only the listed names (wildcards for subdomains) and networks', async () => {
    const policy: UrlPolicy = { ...OPEN, allow: ['*.example.com', '10.0.0.0/8'] };
    await allowed('https://app.example.com/', policy);
    await allowed('http://intranet.corp/', policy);
    await refused('https://example.com/', policy, /not in url_policy\.allow/);
    await refused('https://elsewhere.test/', policy);
    // The defaults still win over an allow list.
    await refused('http://169.254.169.254/', { ...OPEN, allow: ['169.254.0.0/16'] });
  });

  test('deny: extra names and networks', async () => {
    const policy: UrlPolicy = { ...OPEN, deny: ['*.example.com', '93.184.215.14/32'] };
    await refused('https://app.example.com/', policy, /denied host/);
    await refused('https://example.com/', policy, /93\.184\.215\.14/);
    await allowed('http://intranet.corp/', policy);
  });
});
