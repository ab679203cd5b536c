/**
 * Loopback sites for the browser policy tests: an HTTP (and WebSocket) server on a 127.x address of its own
 * that records every TCP connection and request it gets, so a test can say "the denied host received
 * nothing" and "the allowed one received this". Pages are served from a table the test fills.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Writable } from 'node:stream';
import { WebSocketServer } from 'ws';

export interface Hit {
  method: string;
  /** Path and query as received. */
  url: string;
  headers: IncomingHttpHeaders;
}

export interface Site {
  host: string;
  port: number;
  /** `http://<host>:<port>` */
  origin: string;
  /** TCP connections accepted (a refused host must have none). */
  connections: number;
  hits: Hit[];
  /** WebSocket handshakes completed, by path. */
  websockets: string[];
  /** Serves `path` (pathname) with `handler`; unknown paths get 200 text. */
  route(path: string, handler: (req: IncomingMessage, res: ServerResponse) => void): void;
  /** Serves `path` as an HTML page. */
  page(path: string, html: string): void;
  /** Resolves once a request for `path` (pathname) has come, or rejects after `timeoutMs`. */
  received(path: string, timeoutMs?: number): Promise<Hit>;
  paths(): string[];
  close(): Promise<void>;
}

export async function startSite(host: string, port = 0): Promise<Site> {
  const routes = new Map<string, (req: IncomingMessage, res: ServerResponse) => void>();
  const waiters: (() => void)[] = [];
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://site').pathname;
    site.hits.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    waiters.splice(0).forEach((wake) => wake());
    const handler = routes.get(path);
    if (handler) return handler(req, res);
    // Cross-origin fetch/XHR/EventSource read the answer only with CORS; the request is what counts here.
    res.writeHead(200, { 'content-type': 'text/plain', 'access-control-allow-origin': '*', 'cache-control': 'no-store' });
    res.end('ok');
  });
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    site.connections++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    site.websockets.push(new URL(req.url ?? '/', 'http://site').pathname);
    ws.close();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  const site: Site = {
    host,
    port: actual,
    origin: `http://${host}:${actual}`,
    connections: 0,
    hits: [],
    websockets: [],
    route: (path, handler) => void routes.set(path, handler),
    page: (path, html) =>
      void routes.set(path, (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(html);
      }),
    async received(path, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = site.hits.find((h) => new URL(h.url, 'http://site').pathname === path);
        if (hit) return hit;
        if (Date.now() > deadline)
          throw new Error(`${site.origin} did not receive ${path} within ${timeoutMs} ms; got ${site.paths().join(', ') || 'nothing'}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100).unref();
        });
      }
    },
    paths: () => site.hits.map((h) => new URL(h.url, 'http://site').pathname),
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        for (const socket of sockets) socket.destroy();
        wss.close();
        server.close(() => resolve());
      }),
  };
  return site;
}

/** A UDP socket on a loopback address that records every datagram (STUN, QUIC): a refused host must get none. */
export interface UdpTrap {
  host: string;
  port: number;
  datagrams: Buffer[];
  close(): Promise<void>;
}

export async function startUdpTrap(host: string, port = 0): Promise<UdpTrap> {
  const socket: UdpSocket = createSocket('udp4');
  const trap: UdpTrap = { host, port: 0, datagrams: [], close: () => new Promise((resolve) => socket.close(() => resolve())) };
  socket.on('message', (message) => trap.datagrams.push(message));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => resolve());
  });
  trap.port = socket.address().port;
  return trap;
}

/** Log lines (pino JSON) written to it, parsed; for a service's or recorder's log destination. */
export class LogLines extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim()) this.lines.push(JSON.parse(line) as Record<string, unknown>);
    }
    done();
  }
  /** The proxy's refusals logged for `egressId`. */
  refusals(egressId: string): Record<string, unknown>[] {
    return this.lines.filter((l) => l.egressId === egressId && l.msg === 'url_policy refused a connection of the recording browser');
  }
}
