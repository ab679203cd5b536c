/**
 * A README command (`npm start`, `npm run livekit`) run as a terminal runs it: npm and all, the leader of its
 * own process group, so a test can send the group a signal as Ctrl-C does or kill it whole; its output kept.
 * A test process that dies takes the group with it. test/support/npm-start.ts and the README e2e tests use it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';

const REPO = new URL('../../', import.meta.url).pathname;

export interface NpmCommand {
  child: ChildProcess;
  /** The process group's id (the pid of npm). */
  pgid: number;
  /** Everything it printed (stdout and stderr), so far. */
  output: () => string;
  /** Resolves when npm has exited, with how. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The signal to every process of the group, as a terminal sends Ctrl-C. */
  signalGroup: (signal: NodeJS.Signals) => void;
  /** SIGKILL to the group. */
  killGroup: () => void;
}

/** `npm <args>` in the repository with exactly `env`. */
export function runNpm(args: string[], env: NodeJS.ProcessEnv): NpmCommand {
  const child = spawn('npm', args, { cwd: REPO, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  const pgid = child.pid!;
  const killGroup = () => signalGroup(pgid, 'SIGKILL');
  process.once('exit', killGroup);
  void exited.then(() => process.removeListener('exit', killGroup));
  return { child, pgid, output: () => out, exited, signalGroup: (s) => signalGroup(pgid, s), killGroup };
}

/**
 * The Twirp API's base URL once `npm start` printed it (`Twirp API  http://…/twirp`). If it exits first or
 * takes longer than `timeoutMs`, its group is killed and the failure says what it printed.
 */
export async function apiUrlOf(command: NpmCommand, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let url: string | undefined;
  while (!(url = /Twirp API\s+(http:\/\/\S+)\/twirp/.exec(command.output())?.[1])) {
    const { exitCode, signalCode } = command.child;
    if (exitCode !== null || signalCode !== null || Date.now() > deadline) {
      command.killGroup();
      throw new Error(`npm start did not come up (${exitCode ?? signalCode ?? 'timed out'}): ${command.output().slice(-3000)}`);
    }
    await delay(100);
  }
  return url;
}

/** `name` to the process group `pgid` (a negative number: to the one process). */
export function signalGroup(pgid: number, name: NodeJS.Signals): void {
  try {
    process.kill(-pgid, name);
  } catch {
    // the group is gone
  }
}
