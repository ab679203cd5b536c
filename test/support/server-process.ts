/**
 * A throwaway test server as a child process, on a free loopback port with a temp data directory: started
 * until `ready()` says so (a few ports tried, in case another process takes one between probe and bind),
 * killed if the test process exits or dies (a child of ours, as processes.ts starts them), frozen and thawed on
 * cue (SIGSTOP / SIGCONT: connections hang, as with an unreachable server), and stopped for good (data removed)
 * by an idempotent `stop()`.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnSupervised } from '../../workers/process/processes.ts';
import { freePort } from './free-port.ts';

export interface ServerProcess {
  port: number;
  dataDir: string;
  child: ChildProcess;
  // Functions, not methods: they use no `this`, so a wrapper may hand them on as they are.
  suspend: () => void;
  resume: () => void;
  /** Freezes the server for `ms`, then thaws it. */
  unavailableFor: (ms: number) => Promise<void>;
  /** Stops it for good and removes its data. Safe to call twice. */
  stop: () => Promise<void>;
}

export interface ServerSpec {
  name: string;
  command: string;
  /** The arguments for a port and a fresh data directory (which `prepare` may fill first). */
  args(port: number, dataDir: string): string[];
  prepare?(dataDir: string): Promise<void>;
  /** True once the server answers. */
  ready(port: number): Promise<boolean>;
  readyTimeoutMs?: number;
}

const START_ATTEMPTS = 3;
const KILL_GRACE_MS = 3000;

export async function startServerProcess(spec: ServerSpec): Promise<ServerProcess> {
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    try {
      return await startOn(spec, await freePort());
    } catch (err) {
      lastError = err as Error;
    }
  }
  throw lastError ?? new Error(`${spec.name} did not start`);
}

async function startOn(spec: ServerSpec, port: number): Promise<ServerProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), `egress-${spec.name}-`));
  await spec.prepare?.(dataDir);
  const child = spawnSupervised(spec.name, spec.command, spec.args(port, dataDir), { stdio: ['ignore', 'ignore', 'pipe'] }).child;
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = once(child, 'exit');
  const running = () => child.exitCode === null && child.signalCode === null;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (running()) {
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      const killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
      await exited;
      clearTimeout(killTimer);
    }
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + (spec.readyTimeoutMs ?? 20_000);
    for (;;) {
      if (!running()) throw new Error(`${spec.name} exited (${child.exitCode ?? child.signalCode}): ${stderr.trim()}`);
      if (await spec.ready(port)) break;
      if (Date.now() > deadline) throw new Error(`${spec.name} on port ${port} not ready: ${stderr.trim()}`);
      await sleep(50);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    port,
    dataDir,
    child,
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
