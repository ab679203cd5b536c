/**
 * A throwaway redis-server for tests: the Debian binary on a free loopback port, gone when `stop()` is called
 * or the test process exits or dies. Nothing persisted, unless `persistent` (append-only file in a private directory,
 * as production runs it): then `restart()` takes it down and brings it back on the same port with its data. Real Redis, because BullMQ's Lua scripts and the
 * store's compare-and-set are exactly what tests need to exercise.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createConnection } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnSupervised } from '../../workers/process/processes.ts';
import { freePort } from './free-port.ts';

export interface RedisServer {
  /** redis://127.0.0.1:<port>, for REDIS_URL. */
  url: string;
  port: number;
  /** Stops the server (SIGTERM, then SIGKILL) and waits for it to exit. Safe to call twice. */
  stop(): Promise<void>;
  /** Persistent servers: stops it, keeps it down for `downForMs`, starts it again with the same data. */
  restart(downForMs: number): Promise<void>;
}

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 5000;
/** Another process may take the port between our probe and redis-server's bind; then we try another. */
const START_ATTEMPTS = 3;

/** `dataDir`: persistent, on the data another server left there (kept when stopped). */
export async function startRedis(options: { persistent?: boolean; dataDir?: string } = {}): Promise<RedisServer> {
  const ownDir = options.persistent && !options.dataDir ? await mkdtemp(join(tmpdir(), 'egress-redis-')) : undefined;
  const dataDir = options.dataDir ?? ownDir;
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    const port = await freePort();
    try {
      let server = await startOn(port, dataDir);
      return {
        url: server.url,
        port,
        stop: async () => {
          await server.stop();
          if (ownDir) await rm(ownDir, { recursive: true, force: true });
        },
        restart: async (downForMs) => {
          if (!dataDir) throw new Error('only a persistent redis-server can be restarted with its data');
          await server.stop();
          await sleep(downForMs);
          server = await startOn(port, dataDir);
        },
      };
    } catch (err) {
      lastError = err as Error;
    }
  }
  throw lastError ?? new Error('redis-server did not start');
}

async function startOn(port: number, dataDir: string | undefined): Promise<Omit<RedisServer, 'restart'>> {
  const persistence = dataDir ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dataDir] : ['--appendonly', 'no', '--dir', tmpdir()];
  // A child of ours (processes.ts): a test that fails before stop() does not leave it running.
  const child = spawnSupervised(
    'redis-server',
    process.env.REDIS_SERVER_BIN ?? 'redis-server',
    ['--port', String(port), '--bind', HOST, '--save', '', ...persistence, '--loglevel', 'warning'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  ).child;
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit');
  const stop = () => terminate(child, exited);
  try {
    await waitForPong(port, child, () => stderr);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `redis://${HOST}:${port}`, port, stop };
}

async function terminate(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const killTimer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(killTimer);
}

async function waitForPong(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`redis-server on port ${port} exited (${child.exitCode ?? child.signalCode}): ${stderr().trim()}`);
    }
    if (await ping(port)) return;
    await sleep(25);
  }
  throw new Error(`redis-server on port ${port} did not answer PING within ${READY_TIMEOUT_MS} ms: ${stderr().trim()}`);
}

/** One raw PING, so that waiting for the server needs no client library and no reconnect logic. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}
