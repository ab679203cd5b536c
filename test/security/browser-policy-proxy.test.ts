/**
 * The policy proxy on its own (workers/web/policy-proxy.ts), driven the way Chromium drives it: absolute-form
 * HTTP requests and CONNECT tunnels, with an injected resolver giving the answers a DNS server would. Loopback
 * listeners on 127.0.0.2 (allowed) and 127.0.0.3 (url_policy.deny) stand in for an allowed and a forbidden
 * host: a refusal is checked on the answer and on the forbidden listener having received nothing.
 */
import assert from 'node:assert/strict';
import { request, type IncomingMessage } from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import type { UrlPolicy } from '../../shared/url-policy.ts';
import { startPolicyProxy, type PolicyProxy, type ProxyRules } from '../../workers/web/policy-proxy.ts';
import { POLICY_HEADER, PROXY_ERROR_HEADER } from '../../workers/web/proxy-wire.ts';
import { LogLines, startSite, type Site } from './browser-sites.ts';

const POLICY: UrlPolicy = { allow: [], deny: ['127.0.0.3'], denyPrivate: false };

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

/** An absolute-form request through the proxy, as Chromium sends plain http. */
function viaProxy(proxy: PolicyProxy, url: string, headers: Record<string, string> = {}): Promise<Answer> {
  const { port } = new URL(proxy.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: url, headers: { host: new URL(url).host, ...headers }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** CONNECT host:port through the proxy: the answer, and the tunnel when it is 200. */
function connectVia(proxy: PolicyProxy, authority: string): Promise<{ status: number; headers: IncomingMessage['headers']; socket: Socket }> {
  const { port } = new URL(proxy.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'CONNECT', path: authority, agent: false });
    req.on('connect', (res: IncomingMessage, socket: Socket) => resolve({ status: res.statusCode ?? 0, headers: res.headers, socket }));
    req.on('error', reject);
    req.end();
  });
}

/** A TCP echo server on `host` that counts connections. */
async function echoServer(host: string, port = 0): Promise<{ server: Server; port: number; connections: () => number }> {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return { server, port: (server.address() as AddressInfo).port, connections: () => connections };
}

describe('policy proxy', { concurrency: false }, () => {
  let allowed: Site;
  /** Same port as `allowed`, on the denied address: where a rebound name would lead. */
  let denied: Site;
  const logs = new LogLines();
  const log = pino({ level: 'debug' }, logs).child({ egressId: 'EG_proxytest' });
  const proxies: PolicyProxy[] = [];
  const newProxy = async (rules: Partial<ProxyRules> | undefined, resolve?: (host: string) => Promise<string[]>) => {
    const proxy = await startPolicyProxy({
      ...(rules ? { rules: { policy: POLICY, field: 'url', exemptHosts: [], exemptOrigins: [], log, ...rules } } : {}),
      log,
      ...(resolve ? { resolve } : {}),
    });
    proxies.push(proxy);
    return proxy;
  };

  before(async () => {
    allowed = await startSite('127.0.0.2');
    denied = await startSite('127.0.0.3', allowed.port);
    allowed.route('/redirect', (_req, res) => {
      res.writeHead(302, { location: `${denied.origin}/target` });
      res.end();
    });
    allowed.route('/hop-by-hop', (_req, res) => {
      res.writeHead(200, {
        connection: 'x-secret-hop',
        'x-secret-hop': '1',
        'keep-alive': 'timeout=5',
        'proxy-authenticate': 'Basic',
        'x-kept': 'yes',
        [POLICY_HEADER]: 'refused',
      });
      res.end('hop');
    });
  });
  after(async () => {
    await Promise.all(proxies.map((p) => p.close()));
    await allowed?.close();
    await denied?.close();
  });

  test('DNS rebinding: each connection resolves once and goes to the checked address; a name that now points at a denied address is refused', async () => {
    const answers = [['127.0.0.2'], ['127.0.0.3']];
    const asked: string[] = [];
    const proxy = await newProxy({}, async (host) => {
      asked.push(host);
      return answers.shift() ?? ['127.0.0.3'];
    });
    const url = `http://rebind.test:${allowed.port}/first?token=secret-query`;
    const first = await viaProxy(proxy, url);
    assert.equal(first.status, 200);
    const hit = allowed.hits.find((h) => h.url === '/first?token=secret-query');
    assert.ok(hit, 'the first request reached the address the name had when it was checked');
    assert.equal(hit.headers.host, `rebind.test:${allowed.port}`, 'Host kept');

    const second = await viaProxy(proxy, `http://rebind.test:${allowed.port}/second`);
    assert.equal(second.status, 403);
    assert.equal(second.headers[POLICY_HEADER], 'refused');
    assert.match(second.body, /url: rebind\.test is not allowed \(it resolves to 127\.0\.0\.3: in url_policy\.deny\)/);
    const tunnel = await connectVia(proxy, `rebind.test:${allowed.port}`);
    assert.equal(tunnel.status, 403);
    assert.deepEqual(asked, ['rebind.test', 'rebind.test', 'rebind.test'], 'one resolution per connection');
    assert.equal(denied.connections, 0, 'the denied address received nothing');

    const refusals = logs.refusals('EG_proxytest').filter((l) => l.host === 'rebind.test');
    assert.equal(refusals.length, 2);
    assert.ok(
      refusals.every((l) => l.level === 40 && !JSON.stringify(l).includes('secret-query') && !JSON.stringify(l).includes('/second')),
      'host and reason, no path or query',
    );
  });

  test('a name with an allowed and a denied address is refused: every address is checked, none connected to', async () => {
    const before = allowed.connections;
    const proxy = await newProxy({}, async () => ['127.0.0.2', '127.0.0.3']);
    const answer = await viaProxy(proxy, `http://both.test:${allowed.port}/both`);
    assert.equal(answer.status, 403);
    assert.equal(allowed.connections, before);
    assert.equal(denied.connections, 0);
  });

  test('CONNECT: a tunnel to an allowed host carries bytes both ways; to a denied one 403 and nothing connected', async () => {
    const echo = await echoServer('127.0.0.2');
    const deniedEcho = await echoServer('127.0.0.3', echo.port);
    try {
      const proxy = await newProxy({});
      const open = await connectVia(proxy, `127.0.0.2:${echo.port}`);
      assert.equal(open.status, 200);
      const echoed = new Promise<string>((resolve) => open.socket.once('data', (data) => resolve(data.toString())));
      open.socket.write('ping');
      assert.equal(await echoed, 'ping');
      open.socket.destroy();

      const refused = await connectVia(proxy, `127.0.0.3:${echo.port}`);
      assert.equal(refused.status, 403);
      assert.equal(refused.headers[POLICY_HEADER], 'refused');
      const v6 = await connectVia(proxy, `[::ffff:127.0.0.3]:${echo.port}`);
      assert.equal(v6.status, 403, 'the IPv4-mapped form of a denied address');
      assert.equal(deniedEcho.connections(), 0);
      const outcome = proxy.outcomeFor(`https://127.0.0.3:${echo.port}/`);
      assert.ok(outcome && 'refused' in outcome && outcome.refused.code === 'EGR_ERR_PERMISSION_DENIED');
    } finally {
      echo.server.close();
      deniedEcho.server.close();
    }
  });

  test('HTTP: redirects are not followed, hop-by-hop, Proxy-* and our marker headers are dropped both ways, the rest kept', async () => {
    const proxy = await newProxy({});
    const redirect = await viaProxy(proxy, `${allowed.origin}/redirect`);
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.location, `${denied.origin}/target`);
    assert.equal(denied.connections, 0);

    const answer = await viaProxy(proxy, `${allowed.origin}/hop-by-hop`, {
      'proxy-authorization': 'Basic c2VjcmV0',
      'proxy-connection': 'keep-alive',
      connection: 'x-request-hop',
      'x-request-hop': '1',
      'x-kept': 'yes',
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.body, 'hop');
    assert.equal(answer.headers['x-kept'], 'yes');
    assert.equal(answer.headers['x-secret-hop'], undefined);
    assert.equal(answer.headers['proxy-authenticate'], undefined);
    assert.equal(answer.headers[POLICY_HEADER], undefined, "a site cannot pass its answer off as the proxy's refusal");
    const seen = allowed.hits.find((h) => h.url === '/hop-by-hop')!.headers;
    assert.equal(seen['x-kept'], 'yes');
    assert.equal(seen['proxy-authorization'], undefined);
    assert.equal(seen['proxy-connection'], undefined);
    assert.equal(seen['x-request-hop'], undefined);
  });

  test('an absolute-form request with Upgrade (a WebSocket not tunnelled) is forwarded when allowed, refused when not', async () => {
    const proxy = await newProxy({});
    const handshake = (site: Site) =>
      new Promise<string>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port: Number(new URL(proxy.url).port) });
        let text = '';
        socket.setEncoding('utf8').on('data', (chunk: string) => {
          text += chunk;
          if (text.includes('\r\n\r\n')) {
            socket.destroy();
            resolve(text.split('\r\n')[0]!);
          }
        });
        socket.write(
          `GET ${site.origin}/upgraded HTTP/1.1\r\nHost: ${site.host}:${site.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nProxy-Connection: keep-alive\r\n\r\n',
        );
      });
    assert.equal(await handshake(allowed), 'HTTP/1.1 101 Switching Protocols');
    assert.ok(allowed.websockets.includes('/upgraded'));
    assert.equal(await handshake(denied), 'HTTP/1.1 403 Forbidden');
    assert.equal(denied.connections, 0);
  });

  test('HTTP: the answer is streamed as it comes, not buffered', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    allowed.route('/stream', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first;');
      void released.then(() => res.end('last'));
    });
    const proxy = await newProxy({});
    const { port } = new URL(proxy.url);
    const body = await new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: `${allowed.origin}/stream`, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => {
          text += chunk;
          // The origin ends its answer only once the first part has come through.
          if (text === 'first;') release();
        });
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(body, 'first;last');
  });

  test('a malformed answer from a site fails that request only; the proxy goes on', async () => {
    const garbage = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.end('HTTP/1.1 200 OK\r\nX-Bad: a\u0001b\r\nContent-Length: 2\r\n\r\nok');
    });
    await new Promise<void>((resolve) => garbage.listen(0, '127.0.0.2', resolve));
    try {
      const proxy = await newProxy({});
      const broken = await viaProxy(proxy, `http://127.0.0.2:${(garbage.address() as AddressInfo).port}/`).catch((err: Error) => err);
      assert.ok(broken instanceof Error || broken.status === 502, `answered ${JSON.stringify(broken)}`);
      assert.equal((await viaProxy(proxy, `${allowed.origin}/still-there`)).status, 200);
    } finally {
      garbage.close();
    }
  });

  test('an unreachable upstream: 502 saying why (not a refusal)', async () => {
    const closed = await echoServer('127.0.0.2');
    await new Promise<void>((resolve) => closed.server.close(() => resolve()));
    const proxy = await newProxy({});
    const answer = await viaProxy(proxy, `http://127.0.0.2:${closed.port}/`);
    assert.equal(answer.status, 502);
    assert.equal(answer.headers[POLICY_HEADER], 'unreachable');
    assert.equal(answer.headers[PROXY_ERROR_HEADER], 'ERR_CONNECTION_REFUSED');
    const unresolved = await newProxy({}, async () => []);
    assert.equal((await viaProxy(unresolved, 'http://nowhere.test/')).headers[PROXY_ERROR_HEADER], 'ERR_NAME_NOT_RESOLVED');
  });

  test('without rules (a warm station before its egress) everything is refused; apply() gives it the egress policy', async () => {
    const proxy = await newProxy(undefined);
    const before = allowed.connections;
    const idle = await viaProxy(proxy, `${allowed.origin}/idle`);
    assert.equal(idle.status, 403);
    assert.match(idle.body, /serves no egress yet/);
    assert.equal((await connectVia(proxy, `127.0.0.2:${allowed.port}`)).status, 403);
    assert.equal(allowed.connections, before);
    proxy.apply({ policy: POLICY, field: 'url', exemptHosts: [], exemptOrigins: [], log });
    assert.equal((await viaProxy(proxy, `${allowed.origin}/taken`)).status, 200);
    assert.equal((await viaProxy(proxy, `${denied.origin}/taken`)).status, 403);
    assert.equal(denied.connections, 0);
  });

  test('exemptions: an operator host on every port, an operator origin on its port only, never the always-denied', async () => {
    const other = await echoServer('127.0.0.3');
    const trap = await startSite('127.0.0.9');
    try {
      const proxy = await newProxy({ exemptHosts: ['127.0.0.3'] });
      assert.equal((await viaProxy(proxy, `${denied.origin}/exempt`)).status, 200);
      assert.equal((await connectVia(proxy, `127.0.0.3:${other.port}`)).status, 200, 'any port of an exempt host');
      const byOrigin = await newProxy({ exemptOrigins: [`127.0.0.3:${denied.port}`] });
      assert.equal((await viaProxy(byOrigin, `${denied.origin}/exempt-origin`)).status, 200);
      assert.equal((await connectVia(byOrigin, `127.0.0.3:${other.port}`)).status, 403, 'an exempt origin is that port only');
      // A metadata name is refused before it is resolved, exempt or not: the stand-in for where it would lead gets nothing.
      const metadata = await newProxy({ exemptHosts: ['metadata.google.internal'] }, async () => ['127.0.0.9']);
      assert.equal((await viaProxy(metadata, `http://metadata.google.internal:${trap.port}/computeMetadata/v1/`)).status, 403);
      assert.equal(trap.connections, 0);
    } finally {
      other.server.close();
      await trap.close();
    }
  });

  test('close() ends open tunnels and resolves', async () => {
    const echo = await echoServer('127.0.0.2');
    try {
      const proxy = await newProxy({});
      const open = await connectVia(proxy, `127.0.0.2:${echo.port}`);
      assert.equal(open.status, 200);
      const closed = new Promise<void>((resolve) => open.socket.once('close', () => resolve()));
      await proxy.close();
      await closed;
      await proxy.close();
    } finally {
      echo.server.close();
    }
  });
});
