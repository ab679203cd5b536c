/**
 * A throwaway Azurite blob service (the npm devDependency) for the Azure back-end tests: a free loopback
 * port, data in a temp directory, gone after `stop()` (or when the test process exits). `suspend()` /
 * `resume()` freeze and thaw it (SIGSTOP, SIGCONT): connections hang, as with an unreachable server.
 * Uses Azurite's well-known development account (devstoreaccount1).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, acceptsConnections } from './free-port.ts';

export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface Azurite {
  /** http://127.0.0.1:<port>/devstoreaccount1: the blob service endpoint. */
  endpoint: string;
  port: number;
  accountName: string;
  accountKey: string;
  dataDir: string;
  suspend(): void;
  resume(): void;
  /** Freezes the server for `ms`, then thaws it. */
  unavailableFor(ms: number): Promise<void>;
  /** Stops it for good and removes its data. Safe to call twice. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const BIN = resolve(import.meta.dirname, '../../node_modules/azurite/dist/src/blob/main.js');

export async function startAzurite(): Promise<Azurite> {
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      return await startOn(port);
    } catch (err) {
      lastError = err as Error;
    }
  }
  throw lastError ?? new Error('azurite did not start');
}

async function startOn(port: number): Promise<Azurite> {
  const dataDir = mkdtempSync(join(tmpdir(), 'egress-azurite-'));
  // The blob service's entry point run directly by node (not the .bin shell wrapper): SIGSTOP then reaches
  // the process that serves.
  const child = spawn(
    process.execPath,
    [BIN, '--blobHost', HOST, '--blobPort', String(port), '--location', dataDir, '--silent', '--disableTelemetry', '--skipApiVersionCheck', '--loose'],
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
    await waitListening(port, child, () => stderr);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    endpoint: `http://${HOST}:${port}/${AZURITE_ACCOUNT}`,
    port,
    accountName: AZURITE_ACCOUNT,
    accountKey: AZURITE_KEY,
    dataDir,
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

async function waitListening(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`azurite exited (${child.exitCode ?? child.signalCode}): ${stderr().trim()}`);
    if (await acceptsConnections(port, HOST)) return;
    await sleep(100);
  }
  throw new Error(`azurite on port ${port} not listening: ${stderr().trim()}`);
}
