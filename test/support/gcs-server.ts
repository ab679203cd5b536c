/**
 * A throwaway fake-gcs-server (github.com/fsouza/fake-gcs-server, installed by scripts/ensure-gcs-server.sh)
 * for the GCS back-end tests: plain HTTP on a free loopback port, objects in a temp directory, gone after
 * `stop()` (or when the test process exits). `suspend()`/`resume()` freeze and thaw the process (SIGSTOP,
 * SIGCONT): connections are accepted by the kernel but nothing answers, as with a hung or unreachable server.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './free-port.ts';

export interface GcsServer {
  /** http://127.0.0.1:<port>: the apiEndpoint for the SDK. */
  endpoint: string;
  port: number;
  dataDir: string;
  /** Creates a bucket (idempotent). */
  createBucket(name: string): Promise<void>;
  /** Freezes the server (SIGSTOP): requests hang until `resume()`. */
  suspend(): void;
  resume(): void;
  /** Freezes the server for `ms`, then thaws it; resolves when it is back. */
  unavailableFor(ms: number): Promise<void>;
  /** Stops the server for good and removes its data. Safe to call twice. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const REPO = resolve(import.meta.dirname, '../..');

/** The fake-gcs-server binary (installed on first use; fast afterwards). */
export function gcsServerBinary(): string {
  if (process.env.FAKE_GCS_SERVER_BIN) return process.env.FAKE_GCS_SERVER_BIN;
  return execFileSync('bash', [join(REPO, 'scripts/ensure-gcs-server.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

export async function startGcsServer(): Promise<GcsServer> {
  const binary = gcsServerBinary();
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      return await startOn(binary, port);
    } catch (err) {
      lastError = err as Error;
    }
  }
  throw lastError ?? new Error('fake-gcs-server did not start');
}

async function startOn(binary: string, port: number): Promise<GcsServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'egress-gcs-'));
  const endpoint = `http://${HOST}:${port}`;
  const child = spawn(
    binary,
    ['-scheme', 'http', '-host', HOST, '-port', String(port), '-external-url', endpoint, '-backend', 'filesystem', '-filesystem-root', dataDir, '-log-level', 'error'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = once(child, 'exit');
  const killOnExit = () => {
    child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  };
  process.once('exit', killOnExit);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', killOnExit);
    await terminate(child, exited);
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitReady(endpoint, child, () => stderr);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    endpoint,
    port,
    dataDir,
    async createBucket(name) {
      const res = await fetch(`${endpoint}/storage/v1/b?project=test`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name }),
      });
      if (!res.ok && res.status !== 409) throw new Error(`fake-gcs-server: creating bucket ${name}: ${res.status} ${await res.text()}`);
    },
    suspend: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
    async unavailableFor(ms) {
      child.kill('SIGSTOP');
      await sleep(ms);
      child.kill('SIGCONT');
    },
    stop,
  };
}

async function terminate(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGCONT');
  child.kill('SIGTERM');
  const killTimer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(killTimer);
}

async function waitReady(endpoint: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`fake-gcs-server exited (${child.exitCode ?? child.signalCode}): ${stderr().trim()}`);
    try {
      const res = await fetch(`${endpoint}/storage/v1/b`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`fake-gcs-server on ${endpoint} not ready: ${stderr().trim()}`);
}
