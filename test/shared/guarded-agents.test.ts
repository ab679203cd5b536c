/**
 * The guarded HTTP(S) agents against real loopback listeners: a connection goes only to an address
 * url_policy allows, and to exactly the address that was checked (a name is resolved once, by the
 * injected resolver here, and never again by the system); TLS still verifies the URL's name; through a
 * proxy the proxy is what is checked (absolute-form for http, a CONNECT tunnel for https).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpRequest, type Agent } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { EgressError } from '../../shared/errors.ts';
import {
  GuardedForwardProxyAgent,
  GuardedHttpAgent,
  GuardedHttpsAgent,
  GuardedTunnelAgent,
  policyRefusal,
  type ConnectGuard,
} from '../../shared/guarded-agents.ts';
import type { UrlPolicy } from '../../shared/url-policy.ts';
import { startHttpProxy, type HttpProxy } from '../support/http-proxy.ts';
import { startHttpTrap, type HttpTrap } from '../support/http-trap.ts';

const DENY_3: UrlPolicy = { allow: [], deny: ['127.0.0.3'], denyPrivate: false };
const guard = (policy: UrlPolicy, names: Record<string, string[]> = {}): ConnectGuard => ({
  field: 'test.url',
  policy,
  options: {
    resolve: async (host) => {
      const found = names[host];
      if (!found) throw new Error(`no test name ${host}`);
      return found;
    },
  },
});

/** One GET through `agent`; the status, or the error. */
function get(url: string, agent: Agent, extra: { ca?: string } = {}): Promise<number> {
  const secure = url.startsWith('https:');
  return new Promise((resolve, reject) => {
    const req = (secure ? httpsRequest : httpRequest)(url, { agent, ...extra }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
    req.end();
  });
}

const isRefusal = (field: string) => (err: unknown) =>
  err instanceof EgressError && err.code === 'EGR_ERR_PERMISSION_DENIED' && err.message.startsWith(`${field}:`) && policyRefusal(err) === err;

let allowed: HttpTrap;
let denied: HttpTrap;
let v6: HttpTrap;
let tls: { server: Server; port: number; cert: string };
let proxy: HttpProxy;
let scratch: string;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'guarded-agents-'));
  // A certificate for the name tls.test and the address 127.0.0.4.
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=tls.test',
    '-addext',
    'subjectAltName=DNS:tls.test,IP:127.0.0.4',
    '-keyout',
    join(scratch, 'key.pem'),
    '-out',
    join(scratch, 'cert.pem'),
  ]);
  const [key, cert] = await Promise.all([readFile(join(scratch, 'key.pem'), 'utf8'), readFile(join(scratch, 'cert.pem'), 'utf8')]);
  const server = createHttpsServer({ key, cert }, (_req, res) => res.writeHead(204).end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.4', resolve));
  tls = { server, port: (server.address() as AddressInfo).port, cert };
  [allowed, denied, v6, proxy] = await Promise.all([
    startHttpTrap('127.0.0.2'),
    startHttpTrap('127.0.0.3'),
    startHttpTrap('::1'),
    startHttpProxy('127.0.0.2'),
  ]);
});

after(async () => {
  tls?.server.closeAllConnections();
  tls?.server.close();
  await Promise.all([allowed?.close(), denied?.close(), v6?.close(), proxy?.close()]);
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('direct', () => {
  test('an allowed address is reached; a denied one is refused before any connection', async () => {
    assert.equal(await get(`${allowed.origin}/ok`, new GuardedHttpAgent(guard(DENY_3))), 200);
    await assert.rejects(get(`${denied.origin}/no`, new GuardedHttpAgent(guard(DENY_3))), isRefusal('test.url'));
    // The same address in IPv6 clothes, and as inet_aton would write it.
    await assert.rejects(get(`http://[::ffff:127.0.0.3]:${denied.port}/no`, new GuardedHttpAgent(guard(DENY_3))), isRefusal('test.url'));
    await assert.rejects(get(`http://2130706435:${denied.port}/no`, new GuardedHttpAgent(guard(DENY_3))), isRefusal('test.url'));
    assert.equal(denied.connections, 0);
  });

  test('IPv6 loopback is an address like any other', async () => {
    assert.equal(await get(`${v6.origin}/six`, new GuardedHttpAgent(guard(DENY_3))), 200);
    await assert.rejects(
      get(`${v6.origin}/six`, new GuardedHttpAgent(guard({ allow: [], deny: ['::1'], denyPrivate: false }))),
      isRefusal('test.url'),
    );
    await assert.rejects(get(`${v6.origin}/six`, new GuardedHttpAgent(guard({ allow: [], deny: [], denyPrivate: true }))), isRefusal('test.url'));
    assert.equal(v6.requests.filter((r) => r.url === '/six').length, 1);
  });

  test('a name is connected to at the address that was checked, and refused when any of its addresses is', async () => {
    const before = allowed.requests.length;
    assert.equal(await get(`http://hook.test:${allowed.port}/named`, new GuardedHttpAgent(guard(DENY_3, { 'hook.test': ['127.0.0.2'] }))), 200);
    assert.equal(allowed.requests.length, before + 1);
    assert.equal(allowed.requests.at(-1)!.headers.host, `hook.test:${allowed.port}`);
    // The same name, answering differently at delivery time: the denied address is never connected to.
    await assert.rejects(
      get(`http://hook.test:${denied.port}/named`, new GuardedHttpAgent(guard(DENY_3, { 'hook.test': ['127.0.0.3'] }))),
      isRefusal('test.url'),
    );
    await assert.rejects(
      get(`http://hook.test:${denied.port}/named`, new GuardedHttpAgent(guard(DENY_3, { 'hook.test': ['127.0.0.2', '127.0.0.3'] }))),
      isRefusal('test.url'),
    );
    assert.equal(denied.connections, 0);
  });

  test('https: connected to the checked address, the certificate checked against the URL name', async () => {
    const names = { 'tls.test': ['127.0.0.4'] };
    assert.equal(await get(`https://tls.test:${tls.port}/`, new GuardedHttpsAgent(guard(DENY_3, names)), { ca: tls.cert }), 204);
    // Another name for the same address: the certificate does not match, so the name really was the servername.
    await assert.rejects(
      get(`https://other.test:${tls.port}/`, new GuardedHttpsAgent(guard(DENY_3, { 'other.test': ['127.0.0.4'] })), { ca: tls.cert }),
      /other\.test/,
    );
    await assert.rejects(
      get(`https://tls.test:${tls.port}/`, new GuardedHttpsAgent(guard({ allow: [], deny: ['127.0.0.4'], denyPrivate: false }, names)), {
        ca: tls.cert,
      }),
      isRefusal('test.url'),
    );
  });
});

describe('through a proxy', () => {
  test('http targets: absolute-form requests with Proxy-Authorization, to the checked proxy only', async () => {
    const proxyWithAuth = proxy.url.replace('http://', 'http://pu:p%40ss@');
    assert.equal(await get(`${allowed.origin}/via-proxy`, new GuardedForwardProxyAgent(proxyWithAuth, guard(DENY_3))), 200);
    assert.ok(proxy.seen.includes(`GET ${allowed.origin}/via-proxy Basic ${Buffer.from('pu:p@ss').toString('base64')}`), proxy.seen.join('\n'));
    // The target is the proxy's business; a denied proxy is never connected to.
    await assert.rejects(get(`${allowed.origin}/x`, new GuardedForwardProxyAgent(`${denied.origin}`, guard(DENY_3))), isRefusal('test.url'));
    assert.equal(denied.connections, 0);
  });

  test('https targets: a CONNECT tunnel through the checked proxy, TLS to the target inside it', async () => {
    const proxyWithAuth = proxy.url.replace('http://', 'http://pu:pp@');
    assert.equal(await get(`https://127.0.0.4:${tls.port}/tunnel`, new GuardedTunnelAgent(proxyWithAuth, guard(DENY_3)), { ca: tls.cert }), 204);
    assert.ok(proxy.seen.includes(`CONNECT 127.0.0.4:${tls.port} Basic ${Buffer.from('pu:pp').toString('base64')}`), proxy.seen.join('\n'));
    await assert.rejects(
      get(`https://127.0.0.4:${tls.port}/`, new GuardedTunnelAgent(denied.origin, guard(DENY_3)), { ca: tls.cert }),
      isRefusal('test.url'),
    );
    assert.equal(denied.connections, 0);
  });

  test('a proxy that refuses the tunnel fails the request', async () => {
    // The allowed trap answers CONNECT with nothing useful: it is not a proxy.
    await assert.rejects(get(`https://127.0.0.4:${tls.port}/`, new GuardedTunnelAgent(allowed.origin, guard(DENY_3)), { ca: tls.cert }), /proxy/);
  });
});
