/**
 * A worker process's health endpoint, for Kubernetes probes (`health_port`, env EGRESS_HEALTH_PORT; 0: none),
 * on `host`. Plain node:http: the workers serve nothing else over HTTP.
 *
 * - `GET /healthz` (readiness): 200 while the process's Redis connection is ready, every pool it runs takes
 *   jobs and it is not draining; 503 otherwise, saying why. JSON: status, reason, redis, pools, running
 *   recordings, draining.
 * - `GET /livez` (liveness): 200 while the process answers at all. Never tied to Redis or a drain: a restart
 *   would cut the recordings that an outage or a drain lets go on.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WorkerHealth {
  /** The Redis connection's status (ioredis: `ready` when it can be used). */
  redis: string;
  /** Each pool this process runs, and whether it takes jobs now. */
  pools: Record<string, boolean>;
  /** Recordings running in this process. */
  running: number;
  draining: boolean;
}

export interface HealthServer {
  port: number;
  /** Stops answering; open connections are dropped (bounded: probes hold nothing worth waiting for). */
  close(): Promise<void>;
}

/** Why the worker is not ready, or undefined. */
function notReady(health: WorkerHealth): string | undefined {
  if (health.draining) return 'draining: no new jobs';
  if (health.redis !== 'ready') return `Redis connection is ${health.redis}`;
  const stopped = Object.entries(health.pools)
    .filter(([, running]) => !running)
    .map(([pool]) => pool);
  if (stopped.length) return `pool ${stopped.join(', ')} not running`;
  return undefined;
}

function answer(res: ServerResponse, method: string | undefined, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(method === 'HEAD' ? undefined : text);
}

export async function startHealthServer(host: string, port: number, health: () => WorkerHealth): Promise<HealthServer> {
  const started = Date.now();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/healthz' && path !== '/livez') return answer(res, req.method, 404, { error: 'not found: GET /healthz or /livez' });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return answer(res, req.method, 405, { error: 'method not allowed' });
    }
    if (path === '/livez') return answer(res, req.method, 200, { status: 'ok', uptimeSeconds: Math.round((Date.now() - started) / 1000) });
    const now = health();
    const reason = notReady(now);
    answer(res, req.method, reason ? 503 : 200, { status: reason ? 'unavailable' : 'ok', ...(reason ? { reason } : {}), ...now });
  });
  await new Promise<void>((resolve, reject) => {
    const failed = (err: Error) => reject(new Error(`health_port ${port} on ${host}: ${err.message}`));
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
