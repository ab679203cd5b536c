/**
 * What the takeover tests and bench share (issue 16): record-pool worker processes to start and SIGKILL, which
 * of them holds an egress's lease, and a watch that records every moment the egress was not ACTIVE.
 */
import { EgressStatus, type EgressInfo } from '@livekit/protocol';
import type { EgressClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EgressLeases } from '../../shared/lease/egress-lease.ts';
import type { RecordQueueName } from '../../shared/queues.ts';
import type { TestService } from './service.ts';
import { waitFor } from './wait-for.ts';
import { spawnWorker } from './worker-process.ts';

export const isAlive = (worker: ChildProcess): boolean => worker.exitCode === null && worker.signalCode === null;

/** Worker processes of the service's record pools; every one is SIGKILLed by killAll() (the suite's after()). */
export class RecordWorkers {
  readonly all: ChildProcess[] = [];
  private readonly service: TestService;

  constructor(service: TestService) {
    this.service = service;
  }

  /** A worker process of `pool`, once BullMQ sees as many waiting on it as run (this one too). */
  async start(pool: RecordQueueName, env: Record<string, string> = {}): Promise<ChildProcess> {
    const worker = spawnWorker(this.service, [pool], env);
    this.all.push(worker);
    const running = this.all.filter(isAlive).length;
    const queue = this.service.workers.ctx.queues.get(pool);
    await waitFor(`worker ${worker.pid} waiting on ${pool}`, 60_000, async () => (await queue.getWorkersCount()) === running, 100);
    return worker;
  }

  /** SIGKILL, and its exit. */
  async kill(worker: ChildProcess): Promise<void> {
    if (!isAlive(worker)) return;
    const exited = once(worker, 'exit');
    worker.kill('SIGKILL');
    await exited;
  }

  killAll(): void {
    for (const worker of this.all) if (isAlive(worker)) worker.kill('SIGKILL');
  }
}

/** The pid of the worker process holding the egress's lease (its holder id ends `-<pid>-<hex>`), NaN if none. */
export async function holderPid(leases: EgressLeases, egressId: string): Promise<number> {
  return Number(/-(\d+)-[0-9a-f]+$/.exec((await leases.holder(egressId))?.holderId ?? '')?.[1]);
}

export async function egressInfo(client: EgressClient, egressId: string): Promise<EgressInfo> {
  const [info] = await client.listEgress({ egressId });
  assert.ok(info, `egress ${egressId} listed`);
  return info;
}

/** Polls the egress every 100 ms until stop(), which returns every status it saw that was not ACTIVE. */
export function watchActive(client: EgressClient, egressId: string): { stop: () => Promise<string[]> } {
  let stopped = false;
  const notActive: string[] = [];
  const done = (async () => {
    while (!stopped) {
      const info = await egressInfo(client, egressId);
      if (info.status !== EgressStatus.EGRESS_ACTIVE) notActive.push(`${EgressStatus[info.status]} (${info.error})`);
      await sleep(100);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await done;
      return notActive;
    },
  };
}
