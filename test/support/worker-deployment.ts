/**
 * A Deployment of real worker processes, as the ReplicaSet controller and the kubelet run one: scaling up
 * starts pods (worker processes), scaling down sends SIGTERM to the newest ones first (Kubernetes deletes newer
 * pods first when nothing else ranks them) and stops counting them at once, though they go on running until
 * they have drained, or until terminationGracePeriodSeconds has passed: then SIGKILL, as the kubelet does.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export interface Pod {
  child: ChildProcess;
  startedAtMs: number;
  terminatingAtMs?: number;
  /** SIGKILLed at the end of its termination grace period. */
  killed?: boolean;
  exit?: { atMs: number; code: number | null; signal: NodeJS.Signals | null };
}

export class WorkerDeployment {
  readonly pods: Pod[] = [];
  private readonly start: () => ChildProcess;
  private readonly terminationGraceMs: number;

  constructor(start: () => ChildProcess, options: { terminationGracePeriodSeconds: number }) {
    this.start = start;
    this.terminationGraceMs = options.terminationGracePeriodSeconds * 1000;
  }

  /** Pods counted as replicas: started, not terminating, not exited. */
  get replicas(): number {
    return this.pods.filter((p) => !p.terminatingAtMs && !p.exit).length;
  }

  /** Pods still running, terminating ones included. */
  get running(): number {
    return this.pods.filter((p) => !p.exit).length;
  }

  scaleTo(replicas: number): void {
    while (this.replicas < replicas) this.startPod();
    const live = this.pods.filter((p) => !p.terminatingAtMs && !p.exit).sort((a, b) => b.startedAtMs - a.startedAtMs);
    for (const pod of live.slice(0, Math.max(0, live.length - replicas))) {
      pod.terminatingAtMs = Date.now();
      pod.child.kill('SIGTERM');
      const kill = setTimeout(() => {
        if (pod.exit) return;
        pod.killed = true;
        pod.child.kill('SIGKILL');
      }, this.terminationGraceMs);
      kill.unref();
      pod.child.once('exit', () => clearTimeout(kill));
    }
  }

  /** Resolves once every pod has exited (after a scale to 0, when the drains are over). */
  async exited(timeoutMs: number): Promise<void> {
    const all = Promise.all(this.pods.filter((p) => !p.exit).map((p) => once(p.child, 'exit')));
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([
      all,
      new Promise(
        (_, reject) => (timeout = setTimeout(() => reject(new Error(`${this.running} worker(s) still running after ${timeoutMs} ms`)), timeoutMs)),
      ),
    ]).finally(() => clearTimeout(timeout));
  }

  private startPod(): void {
    const pod: Pod = { child: this.start(), startedAtMs: Date.now() };
    // Two pods started in the same millisecond still rank: the later one is the newer.
    const newest = Math.max(0, ...this.pods.map((p) => p.startedAtMs));
    if (pod.startedAtMs <= newest) pod.startedAtMs = newest + 1;
    pod.child.on('exit', (code, signal) => (pod.exit = { atMs: Date.now(), code, signal }));
    this.pods.push(pod);
  }
}
