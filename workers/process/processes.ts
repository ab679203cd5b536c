/**
 * Supervision of the external programs a recording runs (Xvfb, Chromium, ffmpeg, PulseAudio). Each child leads
 * its own process group, so ending it also ends whatever it forked (Chromium's zygote and renderers).
 * Ending is always SIGTERM to the group, then SIGKILL after a grace.
 *
 * No child outlives this Node process, however it ends:
 * - an orderly exit kills every child still running (the 'exit' handler below);
 * - any death, SIGKILL and the OOM killer included, where no handler runs: each child runs under
 *   `setpriv --pdeathsig SIGKILL` (owned-child.ts), so the kernel kills it with its parent, and the group
 *   watchdog (group-watchdog.ts), a small process outside our process group that learns every child's group,
 *   kills those groups and everything carrying our owner tag once our end of its pipe closes. Both, because the
 *   parent-death signal reaches only the program itself (not Chromium's helpers, nor a child that dies before
 *   setpriv sets it) and the watchdog is one more process that could be killed too;
 * - every child carries EGRESS_OWNER (owner-tag.ts) in its environment, so what survives even that (the host
 *   killed both) is reaped by the next worker that starts on the host (leftovers.ts).
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import type { Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { forgetGroup, watchGroup } from './group-watchdog.ts';
import { ownedChild } from './owned-child.ts';

/** stderr lines kept for error messages. */
const STDERR_TAIL_LINES = 20;
const KILL_GRACE_MS = 5_000;

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** It was ended by kill()/killAll(), not on its own. */
  requested: boolean;
}

export interface SpawnOptions {
  /** The child's environment (default: ours); the owner tag is added to it. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdio of the child; stderr must be 'pipe' for stderrTail(). Default: all pipes. */
  stdio?: StdioOptions;
  /** false: neither the child nor its pipes keep the Node event loop alive (a worker-lifetime daemon). */
  keepAlive?: boolean;
}

const running = new Set<SupervisedProcess>();
process.on('exit', () => {
  for (const child of running) signalGroup(child.pid, 'SIGKILL');
});

export class SupervisedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<ProcessExit>;
  #stderrLines: string[] = [];
  #killRequested = false;

  constructor(name: string, child: ChildProcess) {
    this.name = name;
    this.child = child;
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => this.#keepTail(chunk));
    // Writing to a child that has gone fails with EPIPE; callers act on its exit instead.
    child.stdin?.on('error', () => {});
    this.exited = new Promise((resolve) => {
      const settle = (code: number | null, signal: NodeJS.Signals | null) => {
        running.delete(this);
        // Members of its group may outlive the leader (kill() ends them); an empty group is forgotten now.
        if (child.pid !== undefined && !signalGroup(child.pid, 0)) forgetGroup(child.pid);
        resolve({ code, signal, requested: this.#killRequested });
      };
      child.once('exit', settle);
      // A child that could not be spawned (ENOENT, EACCES) emits 'error' and never 'exit'.
      child.once('error', (err) => {
        if (child.pid === undefined) {
          this.#keepTail(`${err.message}\n`);
          settle(null, null);
        }
      });
    });
    if (child.pid !== undefined) {
      running.add(this);
      watchGroup(child.pid);
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Not known to have exited (Node has not seen its exit yet). */
  get running(): boolean {
    return this.child.pid !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last lines the child wrote to stderr, for error messages. */
  stderrTail(lines: number): string {
    return this.#stderrLines.slice(-lines).join('\n');
  }

  /** Ends the child's whole process group: SIGTERM, then SIGKILL after the grace. Safe to call again. */
  async kill(graceMs = KILL_GRACE_MS): Promise<ProcessExit> {
    this.#killRequested = true;
    signalGroup(this.pid, 'SIGTERM');
    const timer = delay(graceMs, undefined, { ref: false });
    const exit = await Promise.race([this.exited, timer]);
    // Also when the leader has gone: it may have left members of its group behind.
    signalGroup(this.pid, 'SIGKILL');
    const result = exit ?? (await this.exited);
    if (await groupGone(this.pid)) forgetGroup(this.pid!);
    return result;
  }

  #keepTail(chunk: string): void {
    const lines = chunk.split('\n').filter((line) => line.trim() !== '');
    this.#stderrLines.push(...lines);
    if (this.#stderrLines.length > STDERR_TAIL_LINES * 2) this.#stderrLines.splice(0, this.#stderrLines.length - STDERR_TAIL_LINES);
  }
}

/** Starts a child of ours (owned-child.ts) as the leader of a new process group, supervised. */
export function spawnSupervised(name: string, command: string, args: string[], options: SpawnOptions = {}): SupervisedProcess {
  const owned = ownedChild(command, args, options.env);
  const child = spawn(owned.command, owned.args, { detached: true, env: owned.env, cwd: options.cwd, stdio: options.stdio ?? 'pipe' });
  if (options.keepAlive === false) {
    child.unref();
    for (const stream of child.stdio) (stream as Socket | null)?.unref?.();
  }
  return new SupervisedProcess(name, child);
}

/** "ffmpeg exited with code 1", "Xvfb killed by SIGKILL", followed by the last `tailLines` stderr lines if any. */
export function describeExit(exit: ProcessExit, child: SupervisedProcess, tailLines = 5): string {
  const how = exit.signal ? `killed by ${exit.signal}` : exit.code === null ? 'failed to start' : `exited with code ${exit.code}`;
  const tail = tailLines > 0 ? child.stderrTail(tailLines) : '';
  return tail ? `${child.name} ${how}: ${tail}` : `${child.name} ${how}`;
}

/**
 * The processes of one recording. Every child gets the supervisor's environment tag (e.g. EGRESS_ID) and the
 * owner tag, which Chromium's helpers inherit too, so an operator can tell which egress a stray process belongs to.
 */
export class Supervisor {
  readonly #log: Logger;
  readonly #tag: Record<string, string>;
  readonly #children = new Set<SupervisedProcess>();

  constructor(log: Logger, tag: Record<string, string>) {
    this.#log = log;
    this.#tag = tag;
  }

  /** The environment for a child of this recording: ours, the tag, and `extra` (the owner tag comes with ownedChild()). */
  environment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return { ...process.env, ...this.#tag, ...extra };
  }

  spawn(name: string, command: string, args: string[], options: { env?: Record<string, string>; stdio?: StdioOptions } = {}): SupervisedProcess {
    return this.#watch(spawnSupervised(name, command, args, { stdio: options.stdio, env: this.environment(options.env) }));
  }

  /**
   * Supervises a child someone else spawned detached (Chromium, spawned by puppeteer), with environment() and
   * through ownedChild(), as spawn() does.
   */
  adopt(name: string, child: ChildProcess): SupervisedProcess {
    return this.#watch(new SupervisedProcess(name, child));
  }

  /** Whether every child started so far is still running. */
  allRunning(): boolean {
    return [...this.#children].every((child) => child.running);
  }

  /** Ends every child of the recording and waits until they are gone. */
  async killAll(): Promise<void> {
    await Promise.all([...this.#children].map((child) => child.kill()));
  }

  #watch(child: SupervisedProcess): SupervisedProcess {
    this.#children.add(child);
    this.#log.debug({ process: child.name, pid: child.pid }, 'process started');
    void child.exited.then((exit) => {
      const failed = !exit.requested && exit.code !== 0;
      this.#log[failed ? 'warn' : 'debug']({ process: child.name, pid: child.pid, code: exit.code, signal: exit.signal }, 'process exited');
    });
    return child;
  }
}

/** Waits (briefly) until no process of the group is left, so "killed" means gone, not "signalled"; false if some still is. */
async function groupGone(pid: number | undefined): Promise<boolean> {
  for (let i = 0; pid !== undefined && i < 100 && signalGroup(pid, 0); i++) await delay(20);
  return pid !== undefined && !signalGroup(pid, 0);
}

/** Signals a whole process group; false when no process of it exists any more. */
function signalGroup(pid: number | undefined, signal: NodeJS.Signals | 0): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    // ESRCH: the group is already gone.
    return false;
  }
}
