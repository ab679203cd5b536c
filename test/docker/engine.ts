/**
 * A Docker engine for the image tests: the one that already answers, or a dockerd started here and stopped
 * again by `stop()`. As root, scripts/ensure-docker.sh first installs what is missing (Debian's docker.io, the
 * Compose v2 plugin). Where no engine answers and none can be started, `skip` says why.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { run } from './run.ts';

const ENSURE_DOCKER = fileURLToPath(new URL('../../scripts/ensure-docker.sh', import.meta.url));
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 60_000;

export type Engine = { skip: string } | { skip?: undefined; startedHere: boolean; stop(): Promise<void> };

const answers = async () => (await run('docker', ['info', '--format', '{{.ServerVersion}}'], { allowFailure: true, timeoutMs: 20_000 })).code === 0;

export async function ensureEngine(): Promise<Engine> {
  const root = process.getuid?.() === 0;
  if (root) await run('bash', [ENSURE_DOCKER], { timeoutMs: 900_000 });
  if (await answers()) {
    if ((await run('docker', ['compose', 'version'], { allowFailure: true })).code !== 0)
      return { skip: 'docker compose (the Compose v2 plugin) is not installed here' };
    return { startedHere: false, stop: async () => {} };
  }
  if (!root) return { skip: 'no Docker engine answers here, and starting dockerd needs root' };
  return startDockerd();
}

async function startDockerd(): Promise<Engine> {
  const logPath = join(tmpdir(), `egress-queue-dockerd-${process.pid}.log`);
  const log = openSync(logPath, 'w');
  const dockerd = spawn('dockerd', [], { stdio: ['ignore', log, log] });
  closeSync(log);
  const exited = once(dockerd, 'exit');
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await answers())) {
    if (dockerd.exitCode !== null || Date.now() > deadline) {
      if (dockerd.exitCode === null) await stopDockerd(dockerd, exited);
      const tail = readFileSync(logPath, 'utf8').split('\n').slice(-15).join('\n');
      rmSync(logPath, { force: true });
      return { skip: `dockerd could not be started here:\n${tail}` };
    }
    await sleep(250);
  }
  return {
    startedHere: true,
    stop: async () => {
      await stopDockerd(dockerd, exited);
      rmSync(logPath, { force: true });
    },
  };
}

/** SIGTERM (dockerd stops its containerd too), SIGKILL if it is still there a minute later. */
async function stopDockerd(dockerd: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (dockerd.exitCode !== null || dockerd.signalCode !== null) return;
  dockerd.kill('SIGTERM');
  const timer = setTimeout(() => dockerd.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}
