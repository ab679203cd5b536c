/**
 * A real RTMP server for tests: Debian's nginx with the RTMP module (libnginx-mod-rtmp) on a free
 * loopback port. Application `live` records every publish to its own .flv file (so tests can ffprobe
 * what the server really received) and asks a small HTTP endpoint here whether to accept it: stream
 * keys starting with `good` are accepted, any other is refused with 403 — a real publish refusal, as a
 * platform gives for a wrong stream key.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeExit, spawnSupervised, type SupervisedProcess } from '../../workers/process/processes.ts';
import { freePort, acceptsConnections } from './free-port.ts';

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 5_000;
/** Another process may take the port between our probe and nginx's bind; then we try another. */
const START_ATTEMPTS = 3;
const RTMP_MODULE = '/usr/lib/nginx/modules/ngx_rtmp_module.so';

export interface RtmpServer {
  port: number;
  /** rtmp://127.0.0.1:<port>/live/<key> */
  url(key: string): string;
  /** Paths of the .flv files recorded so far, one per publish, oldest first. */
  recordings(): Promise<string[]>;
  /** Stops nginx and the auth endpoint and deletes the recordings. Safe to call twice. */
  stop(): Promise<void>;
}

export async function startRtmpServer(): Promise<RtmpServer> {
  const dir = await mkdtemp(join(tmpdir(), 'rtmp-server-'));
  // nginx-rtmp does not create its record_path.
  await mkdir(join(dir, 'recordings'));
  const auth = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    // nginx-rtmp posts the publish as a form: call=publish&app=live&name=<key>&…
    req.on('end', () => res.writeHead(new URLSearchParams(body).get('name')?.startsWith('good') ? 200 : 403).end());
  });
  await new Promise<void>((resolve) => auth.listen(0, HOST, resolve));
  const authUrl = `http://${HOST}:${(auth.address() as AddressInfo).port}/auth`;

  let lastError: Error | undefined;
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    const port = await freePort();
    await writeFile(join(dir, 'nginx.conf'), nginxConfig(dir, port, authUrl));
    const nginx = spawnSupervised(
      'nginx',
      nginxBinary(),
      ['-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    try {
      await waitUntilListening(port, nginx);
    } catch (err) {
      lastError = err as Error;
      await nginx.kill();
      continue;
    }
    let stopped: Promise<void> | undefined;
    return {
      port,
      url: (key) => `rtmp://${HOST}:${port}/live/${key}`,
      recordings: async () => {
        const files = (await readdir(join(dir, 'recordings'))).filter((name) => name.endsWith('.flv'));
        // record_unique names each file <key>-<unix seconds>.flv; sort by that time.
        const time = (name: string) => Number(/-(\d+)\.flv$/.exec(name)?.[1] ?? 0);
        return files.sort((a, b) => time(a) - time(b) || a.localeCompare(b)).map((name) => join(dir, 'recordings', name));
      },
      stop: () =>
        (stopped ??= (async () => {
          await nginx.kill();
          await new Promise((resolve) => auth.close(resolve));
          await rm(dir, { recursive: true, force: true });
        })()),
    };
  }
  auth.close();
  await rm(dir, { recursive: true, force: true });
  throw lastError ?? new Error('nginx did not start');
}

function nginxConfig(dir: string, port: number, authUrl: string): string {
  // Debian loads the module through /etc/nginx/modules-enabled, which our own config does not include.
  return `load_module ${RTMP_MODULE};
user root;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 64; }
rtmp {
  server {
    listen ${HOST}:${port};
    application live {
      live on;
      record all;
      record_path ${join(dir, 'recordings')};
      record_unique on;
      on_publish ${authUrl};
    }
  }
}
`;
}

/** nginx lives in /usr/sbin, which a non-root PATH may lack. */
function nginxBinary(): string {
  if (process.env.NGINX_BIN) return process.env.NGINX_BIN;
  return existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';
}

async function waitUntilListening(port: number, nginx: SupervisedProcess): Promise<void> {
  let exited: string | undefined;
  void nginx.exited.then((exit) => (exited = describeExit(exit, nginx)));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`nginx on port ${port}: ${exited}`);
    if (await acceptsConnections(port)) return;
    await sleep(25);
  }
  throw new Error(`nginx did not listen on port ${port} within ${READY_TIMEOUT_MS} ms: ${nginx.stderrTail(5)}`);
}
