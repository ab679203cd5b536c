/**
 * An HTTP listener on a loopback address of our choosing (127.0.0.2, 127.0.0.3, …, ::1) that records every
 * TCP connection and every request (method, URL, headers, body). It stands in for a destination that must
 * never be reached (a refusal test checks that `connections` stays 0), or for a receiver that must be
 * (a webhook endpoint, checked with WebhookReceiver when given a key pair). `respond` decides the answer.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebhookReceiver, type WebhookEvent } from 'livekit-server-sdk';

export interface TrappedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface HttpTrap {
  host: string;
  port: number;
  /** `http://<host>:<port>` (IPv6 in brackets). */
  origin: string;
  /** TCP connections accepted, whatever came over them. */
  readonly connections: number;
  requests: TrappedRequest[];
  /** Webhooks WebhookReceiver accepted (when a key pair was given). */
  events: WebhookEvent[];
  /** Why WebhookReceiver refused a request. */
  rejected: string[];
  close(): Promise<void>;
}

export interface TrapOptions {
  /** Verify every request as a webhook signed with this key pair. */
  receiver?: { apiKey: string; apiSecret: string };
  /** The answer; default 200. */
  respond?: (req: TrappedRequest, res: ServerResponse) => void;
}

export async function startHttpTrap(host: string, options: TrapOptions = {}): Promise<HttpTrap> {
  const receiver = options.receiver ? new WebhookReceiver(options.receiver.apiKey, options.receiver.apiSecret) : undefined;
  const requests: TrappedRequest[] = [];
  const events: WebhookEvent[] = [];
  const rejected: string[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const trapped = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      requests.push(trapped);
      const answer = () => (options.respond ? options.respond(trapped, res) : res.writeHead(200).end());
      if (!receiver) return answer();
      receiver.receive(body, req.headers.authorization).then(
        (event) => {
          events.push(event);
          answer();
        },
        (err: Error) => {
          rejected.push(err.message);
          res.writeHead(401).end();
        },
      );
    });
  });
  server.on('connection', (socket: Socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    host,
    port,
    origin: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    get connections() {
      return connections;
    },
    requests,
    events,
    rejected,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
