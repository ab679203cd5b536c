/**
 * Redis behind a real Sentinel, for tests: a password-protected redis-server (the primary) and Debian's
 * redis-server in Sentinel mode (`--sentinel`) monitoring it with a password of its own, each on a free
 * loopback port, children of the test process (server-process.ts).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { acceptsConnections } from './free-port.ts';
import { startServerProcess, type ServerProcess } from './server-process.ts';

export const MASTER_NAME = 'egress-primary';
export const PRIMARY_PASSWORD = 'primary-pw-3b9c1e7d';
export const SENTINEL_PASSWORD = 'sentinel-pw-8f2a6d40';

export interface SentinelRedis {
  primary: ServerProcess;
  sentinel: ServerProcess;
  /** 127.0.0.1:<port> of the Sentinel, for redis.sentinel_addresses. */
  sentinelAddress: string;
  stop(): Promise<void>;
}

const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? 'redis-server';

export async function startSentinelRedis(): Promise<SentinelRedis> {
  const primary = await startServerProcess({
    name: 'redis-primary',
    command: REDIS_SERVER,
    args: (port, dir) => [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--requirepass',
      PRIMARY_PASSWORD,
    ],
    ready: (port) => acceptsConnections(port),
  });
  try {
    const sentinel = await startServerProcess({
      name: 'redis-sentinel',
      command: REDIS_SERVER,
      // Sentinel rewrites its config file: it lives in the server's own data directory.
      prepare: (dir) =>
        writeFile(
          join(dir, 'sentinel.conf'),
          [
            'bind 127.0.0.1',
            `dir ${dir}`,
            `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${primary.port} 1`,
            `sentinel auth-pass ${MASTER_NAME} ${PRIMARY_PASSWORD}`,
            `requirepass ${SENTINEL_PASSWORD}`,
            '',
          ].join('\n'),
        ),
      args: (port, dir) => [join(dir, 'sentinel.conf'), '--sentinel', '--port', String(port)],
      ready: (port) => acceptsConnections(port),
    });
    return {
      primary,
      sentinel,
      sentinelAddress: `127.0.0.1:${sentinel.port}`,
      async stop() {
        await sentinel.stop();
        await primary.stop();
      },
    };
  } catch (err) {
    await primary.stop();
    throw err;
  }
}
