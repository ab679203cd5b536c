/**
 * A worker process of its own that joins a test service (its config environment), running only the given
 * pools: what a node that can be SIGKILLed looks like in the crash-recovery tests. A child of the test process
 * like a recorder's (processes.ts): it dies with the test process, whatever ends that.
 */
import type { ChildProcess } from 'node:child_process';
import { spawnSupervised } from '../../workers/process/processes.ts';
import type { TestService } from './service.ts';

const REPO = new URL('../../', import.meta.url).pathname;

/** `env` is added to the service's (e.g. TMPDIR). */
export function spawnWorker(service: TestService, pools: string[], env: Record<string, string> = {}): ChildProcess {
  return spawnSupervised('worker', process.execPath, ['workers/main.ts'], {
    cwd: REPO,
    env: { ...process.env, ...service.env, EGRESS_POOLS: pools.join(','), ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  }).child;
}
