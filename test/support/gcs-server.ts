/**
 * A throwaway fake-gcs-server (github.com/fsouza/fake-gcs-server, installed by scripts/ensure-gcs-server.sh)
 * for the GCS back-end tests: plain HTTP on a free loopback port, objects in a temp directory, gone after
 * `stop()` (or when the test process exits). `suspend()`/`resume()` freeze and thaw the process (SIGSTOP,
 * SIGCONT): connections are accepted by the kernel but nothing answers, as with a hung or unreachable server.
 */
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { startServerProcess } from './server-process.ts';

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
  const server = await startServerProcess({
    name: 'fake-gcs-server',
    command: gcsServerBinary(),
    args: (port, dataDir) => [
      '-scheme',
      'http',
      '-host',
      HOST,
      '-port',
      String(port),
      '-external-url',
      `http://${HOST}:${port}`,
      '-backend',
      'filesystem',
      '-filesystem-root',
      dataDir,
      '-log-level',
      'error',
    ],
    ready: async (port) =>
      (await fetch(`http://${HOST}:${port}/storage/v1/b`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined))?.ok === true,
    readyTimeoutMs: 15_000,
  });
  const endpoint = `http://${HOST}:${server.port}`;
  return {
    endpoint,
    port: server.port,
    dataDir: server.dataDir,
    async createBucket(name) {
      const res = await fetch(`${endpoint}/storage/v1/b?project=test`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name }),
      });
      if (!res.ok && res.status !== 409) throw new Error(`fake-gcs-server: creating bucket ${name}: ${res.status} ${await res.text()}`);
    },
    suspend: server.suspend,
    resume: server.resume,
    unavailableFor: server.unavailableFor,
    stop: server.stop,
  };
}
