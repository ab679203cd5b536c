/**
 * deny_private covers every way to name this host or a private network, and the always-denied (unspecified,
 * link-local, cloud metadata) hold without it: one decision (shared/url-policy.ts `addressDenial`) for
 * every form an address can be written in, then the same through the API for page, custom template and
 * stream URLs, with loopback listeners standing in for the targets, which must receive nothing.
 */
import { AccessToken } from 'livekit-server-sdk';
import type { FastifyInstance } from 'fastify';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { buildServer } from '../../api/server.ts';
import { embeddedIPv4, normalizeHost } from '../../shared/address-forms.ts';
import { addressDenial, checkUrl, type UrlPolicy } from '../../shared/url-policy.ts';
import type { EgressError } from '../../shared/errors.ts';
import { createApiDeps, TEST_API_KEY, TEST_API_SECRET, type TestApiDeps } from '../support/api-deps.ts';
import { freePort } from '../support/free-port.ts';
import { startRedis, type RedisServer } from '../support/redis-server.ts';

const OPEN: UrlPolicy = { allow: [], deny: [], denyPrivate: false };
const PRIVATE: UrlPolicy = { allow: [], deny: [], denyPrivate: true };

/** Addresses refused whatever the policy says. */
const ALWAYS_DENIED = [
  '0.0.0.0',
  '0.1.2.3',
  '::',
  '0:0:0:0:0:0:0:0',
  '169.254.169.254',
  '169.254.170.2',
  '169.254.0.1',
  '100.100.100.200',
  'fe80::1',
  'fe80::a9fe:a9fe%eth0',
  'febf:ffff::1',
  'fd00:ec2::254',
  '::ffff:169.254.169.254',
  '::ffff:a9fe:a9fe',
  '::ffff:0:169.254.169.254',
  '::169.254.169.254',
  '64:ff9b::169.254.169.254',
  '64:ff9b::a9fe:a9fe',
  '2002:a9fe:a9fe::1',
  '2001:0:a9fe:a9fe::1',
  // Teredo: the client's address is stored inverted (169.254.169.254 → 5601:5601).
  '2001:0:4136:e378:8000:63bf:5601:5601',
  '::ffff:0.0.0.0',
];

/** Refused with deny_private, allowed without it. */
const PRIVATE_ONLY = [
  '127.0.0.1',
  '127.255.255.254',
  '10.0.0.1',
  '10.255.255.255',
  '172.16.0.1',
  '172.31.255.255',
  '192.168.1.1',
  '100.64.0.1',
  '100.127.255.254',
  '192.0.0.8',
  '198.18.0.1',
  '192.0.2.1',
  '224.0.0.251',
  '239.255.255.250',
  '240.0.0.1',
  '255.255.255.255',
  '::1',
  '0:0:0:0:0:0:0:1',
  'fc00::1',
  'fd12:3456::1',
  'fec0::1',
  'ff02::1',
  '64:ff9b:1::a00:1',
  '100::1',
  '2001:db8::1',
  '::ffff:127.0.0.1',
  '::ffff:7f00:1',
  '::ffff:10.1.2.3',
  '::ffff:0:127.0.0.1',
  '::127.0.0.1',
  '::7f00:1',
  '::10.0.0.1',
  '64:ff9b::127.0.0.1',
  '64:ff9b::c0a8:101',
  '2002:7f00:1::',
  '2002:c0a8:101:1::1',
  '2001:0:7f00:1::1',
  '2001:0:4136:e378:8000:63bf:80ff:fffe', // Teredo client 127.0.0.1
  '2001:0:4136:e378:8000:63bf:f5ff:fffe', // Teredo client 10.0.0.1
];

/** Public unicast: allowed even with deny_private. */
const PUBLIC = [
  '8.8.8.8',
  '1.1.1.1',
  '93.184.215.14',
  '100.63.255.255',
  '100.128.0.1',
  '172.15.255.255',
  '172.32.0.1',
  '2606:4700::1111',
  '2a00:1450:4001::200e',
  '::ffff:8.8.8.8',
  '64:ff9b::8.8.8.8',
  '2002:808:808::1',
  '2001:0:808:808:8000:63bf:f7f7:f7f7',
];

describe('address forms', () => {
  test('the always-denied hold without deny_private, in every IPv6 form that embeds them', () => {
    for (const address of ALWAYS_DENIED) {
      assert.ok(addressDenial(address, OPEN), `${address} must be denied by default`);
      assert.ok(addressDenial(address, PRIVATE), `${address} must be denied with deny_private`);
    }
  });

  test('deny_private refuses this host and private networks in every form, and only with deny_private', () => {
    for (const address of PRIVATE_ONLY) {
      assert.ok(addressDenial(address, PRIVATE), `${address} must be denied with deny_private`);
      assert.equal(addressDenial(address, OPEN), undefined, `${address} is allowed without deny_private`);
    }
  });

  test('public addresses stay allowed (the check can say yes)', () => {
    for (const address of PUBLIC) assert.equal(addressDenial(address, PRIVATE), undefined, address);
  });

  test('a deny CIDR matches the IPv4 address however it is written', () => {
    const policy: UrlPolicy = { ...OPEN, deny: ['203.0.113.0/24'] };
    for (const address of ['203.0.113.9', '::ffff:203.0.113.9', '::ffff:cb00:7109', '64:ff9b::203.0.113.9', '2002:cb00:7109::1']) {
      assert.match(addressDenial(address, policy) ?? '', /url_policy\.deny/, address);
    }
    assert.equal(addressDenial('203.0.114.9', policy), undefined);
  });

  test('embedded IPv4 addresses are found in each form', () => {
    assert.deepEqual(embeddedIPv4('::ffff:127.0.0.1'), [{ form: 'IPv4-mapped', ipv4: '127.0.0.1' }]);
    assert.deepEqual(embeddedIPv4('64:ff9b::a00:1'), [{ form: 'NAT64', ipv4: '10.0.0.1' }]);
    assert.deepEqual(embeddedIPv4('2002:c0a8:101::'), [{ form: '6to4', ipv4: '192.168.1.1' }]);
    assert.deepEqual(embeddedIPv4('2001:0:4136:e378:8000:63bf:3fff:fdd2'), [
      { form: 'Teredo server', ipv4: '65.54.227.120' },
      { form: 'Teredo client', ipv4: '192.0.2.45' },
    ]);
    assert.deepEqual(embeddedIPv4('2606:4700::1111'), []);
    assert.deepEqual(embeddedIPv4('127.0.0.1'), []);
  });

  test('host names as getaddrinfo (and so ffmpeg) reads them: inet_aton forms, brackets, case, trailing dots', () => {
    for (const [written, normal] of [
      ['2130706433', '127.0.0.1'],
      ['0x7f000001', '127.0.0.1'],
      ['0x7f.1', '127.0.0.1'],
      ['0177.0.0.1', '127.0.0.1'],
      ['127.1', '127.0.0.1'],
      ['127.0.1', '127.0.0.1'],
      ['0', '0.0.0.0'],
      ['2852039166', '169.254.169.254'],
      ['[::1]', '::1'],
      ['LOCALHOST.', 'localhost'],
      ['Example.COM..', 'example.com'],
      ['08.1.1.1', '08.1.1.1'], // not octal: a name
      ['1.2.3.256', '1.2.3.256'],
    ] as const) {
      assert.equal(normalizeHost(written), normal, written);
    }
  });

  test('URLs of every scheme a request may carry name their host the way the connection will', async () => {
    const noDns = async (host: string): Promise<string[]> => {
      throw new Error(`no DNS for ${host} in this test`);
    };
    const urls = [
      'http://[::]:8080/',
      'http://[::ffff:127.0.0.1]/',
      'http://[0:0:0:0:0:ffff:7f00:1]/',
      'http://[::127.0.0.1]/',
      'http://[64:ff9b::7f00:1]/',
      'http://[2002:7f00:1::]/',
      'http://0x7f.1/',
      'http://127.1:3000/',
      'http://2130706433/',
      'https://localhost./',
      'https://a.b.localhost/',
      'http://user:pass@127.0.0.1@[::1]/',
      'ws://[::1]:7880/rtc',
      'rtmp://2130706433/live/key',
      'rtmp://0x7f.1:1935/live/key',
      'rtmps://[::ffff:10.0.0.1]/live/key',
      'rtmp://user@127.0.0.1/live/key',
      'srt://[::ffff:127.0.0.1]:9000',
      'srt://0177.0.0.1:9000?streamid=x',
    ];
    for (const url of urls) {
      await assert.rejects(
        checkUrl(url, 'url', PRIVATE, noDns),
        (err: EgressError) => err.code === 'EGR_ERR_PERMISSION_DENIED' && err.message.startsWith('url: '),
        url,
      );
      if (!url.includes('[::]')) await checkUrl(url, 'url', OPEN, noDns); // the same URL is fine without deny_private
    }
    await assert.rejects(checkUrl('http://[::]:8080/', 'url', OPEN, noDns), /unspecified/);
  });
});

describe('address forms through the API', () => {
  let redis: RedisServer;
  let deps: TestApiDeps;
  let app: FastifyInstance;
  let auth: string;
  let port: number;
  const listeners: Server[] = [];
  let connections = 0;

  before(async () => {
    redis = await startRedis();
    deps = createApiDeps(redis.url, { EGRESS_CONFIG_BODY: stringify({ url_policy: { deny_private: true } }) });
    app = await buildServer(deps);
    const at = new AccessToken(TEST_API_KEY, TEST_API_SECRET, { ttl: 600 });
    at.addGrant({ roomRecord: true });
    auth = `Bearer ${await at.toJwt()}`;
    // Stand-ins for this host on one port: whatever form a URL uses to name it, it would land here.
    port = await freePort();
    for (const host of ['127.0.0.1', '::1']) {
      const server = createServer((socket) => {
        connections += 1;
        socket.destroy();
      });
      await new Promise<void>((resolve) => server.listen(port, host, resolve));
      listeners.push(server);
    }
  });
  after(async () => {
    for (const server of listeners) server.close();
    await app?.close();
    await deps?.close();
    await redis?.stop();
  });

  const call = (method: string, body: unknown) =>
    app.inject({
      method: 'POST',
      url: `/twirp/livekit.Egress/${method}`,
      headers: { authorization: auth, 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });

  test('pages, custom templates and streams naming this host in any form are refused, naming the field; nothing is queued or connected to', async () => {
    const hosts = [
      '[::]',
      '0.0.0.0',
      '127.0.0.1',
      '127.1',
      '2130706433',
      '0x7f000001',
      '[::1]',
      '[::ffff:127.0.0.1]',
      '[::ffff:7f00:1]',
      '[::127.0.0.1]',
      '[64:ff9b::7f00:1]',
      '[2002:7f00:1::]',
      'localhost',
      'LocalHost.',
      'x.localhost',
    ];
    const file = { filepath: 'out.mp4' };
    for (const host of hosts) {
      const target = `${host}:${port}`;
      const cases: [string, unknown, string][] = [
        ['StartWebEgress', { url: `http://${target}/page`, fileOutputs: [file] }, 'url'],
        ['StartRoomCompositeEgress', { roomName: 'r', customBaseUrl: `https://${target}/t`, fileOutputs: [file] }, 'custom_base_url'],
      ];
      for (const [method, body, field] of cases) {
        const res = await call(method, body);
        assert.equal(res.statusCode, 403, `${method} ${target}: ${res.body}`);
        assert.equal(res.json().code, 'permission_denied');
        assert.ok((res.json().msg as string).startsWith(`${field}: `), res.body);
      }
    }
    const listed = await call('ListEgress', {});
    assert.deepEqual(listed.json().items ?? [], []);
    assert.equal(connections, 0);
  });
});

describe('allow lists', () => {
  test('a name outside an allow list of names is refused without being looked up', async () => {
    const asked: string[] = [];
    const resolver = async (host: string) => {
      asked.push(host);
      return ['93.184.215.14'];
    };
    const names: UrlPolicy = { ...OPEN, allow: ['*.example.com'] };
    await assert.rejects(checkUrl('https://exfiltrate-a-secret.attacker.test/', 'url', names, resolver), /not in url_policy\.allow/);
    assert.deepEqual(asked, []);
    await checkUrl('https://app.example.com/', 'url', names, resolver);
    assert.deepEqual(asked, ['app.example.com'], 'an allowed name is still resolved, and its addresses checked');
    // With CIDRs in the list, the addresses decide: the name must be resolved.
    await checkUrl('https://other.test/', 'url', { ...OPEN, allow: ['93.184.215.0/24'] }, resolver);
    assert.deepEqual(asked, ['app.example.com', 'other.test']);
  });
});

describe('a slow resolver', () => {
  test('does not hold a request-time check: an unanswered name is let through to the connect-time check, unless an allow list needs its addresses', async () => {
    const never = () => new Promise<string[]>(() => undefined);
    await checkUrl('https://slow.example/', 'url', OPEN, { resolve: never, resolveTimeoutMs: 50 });
    await assert.rejects(
      checkUrl('https://slow.example/', 'url', { ...OPEN, allow: ['93.184.215.0/24'] }, { resolve: never, resolveTimeoutMs: 50 }),
      /not in url_policy\.allow/,
    );
    // A name refused as a name needs no answer at all.
    await assert.rejects(checkUrl('https://metadata.google.internal/', 'url', OPEN, { resolve: never, resolveTimeoutMs: 60_000 }), /metadata/);
  });
});
