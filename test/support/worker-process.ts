/**
 * A worker process of its own that joins a test service (its config environment), running only the given
 * pools: what a node that can be SIGKILLed looks like in the crash-recovery tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { TestService } from './service.ts';

const REPO = new URL('../../', import.meta.url).pathname;

export function spawnWorker(service: TestService, pools: string[]): ChildProcess {
  return spawn(process.execPath, ['workers/main.ts'], {
    cwd: REPO,
    env: { ...process.env, ...service.env, EGRESS_POOLS: pools.join(',') },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
