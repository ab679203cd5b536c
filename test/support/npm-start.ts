/**
 * A real `npm start` (npm, then scripts/run.sh start, the embedded default: REDIS_URL unset, so it starts its own
 * redis-server) as a terminal would run it: the leader of its own process group, so a test can send the
 * group a signal as Ctrl-C does. Its cache, recordings and temp folders are the test's, and every process
 * it starts carries a unique environment tag, so the test can find whatever is left of it.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { commandOf, processesTagged as tagged } from '../../workers/process/proc-table.ts';
import { freePort } from './free-port.ts';
import { apiUrlOf, runNpm, signalGroup } from './npm-command.ts';

/** The development key pair the embedded default accepts. */
export const DEV_KEY = 'devkey';
export const DEV_SECRET = 'secret';
/** The name of the environment tag every process of one `npm start` inherits. */
export const START_TAG = 'EGRESS_TEST_NPM_START';

export interface NpmStart {
  /** The process group's id (the pid of `npm start`). */
  pgid: number;
  child: ChildProcess;
  /** http://127.0.0.1:<port> */
  url: string;
  /** The value of START_TAG in this start's environment. */
  tag: string;
  cacheDir: string;
  recordingsDir: string;
  /** Everything the service printed (stdout and stderr), so far. */
  output(): string;
  /** Resolves when npm start has exited, with how. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** What a terminal does on Ctrl-C: the signal to every process of the foreground group. */
  signalGroup: (signal: NodeJS.Signals) => void;
  /** Ends whatever is left of it (a failed test): SIGKILL to its group and to every process carrying its tag. */
  kill(): Promise<void>;
}

/**
 * Folders: `root` gets cache/, recordings/ and tmp/ (the temp folder, so tmp_dir and PulseAudio's sockets are
 * in it). `env` is set on top (REDIS_URL: not the embedded default, run.sh execs the service).
 */
export async function npmStart(root: string, options: { env?: Record<string, string>; readyTimeoutMs?: number } = {}): Promise<NpmStart> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // The embedded default: no Redis, no config file, the development keys.
  for (const key of [
    'REDIS_URL',
    'EGRESS_CONFIG_FILE',
    'EGRESS_CONFIG_BODY',
    'LIVEKIT_API_KEY',
    'LIVEKIT_API_SECRET',
    'LIVEKIT_URL',
    'LIVEKIT_WS_URL',
  ])
    delete env[key];
  const tag = randomBytes(8).toString('hex');
  const cacheDir = join(root, 'cache');
  const recordingsDir = join(root, 'recordings');
  Object.assign(env, {
    [START_TAG]: tag,
    EGRESS_CACHE_DIR: cacheDir,
    EGRESS_RECORDINGS_DIR: recordingsDir,
    TMPDIR: join(root, 'tmp'),
    EGRESS_PORT: String(await freePort()),
    EGRESS_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'info',
    ...options.env,
  });
  await mkdir(join(root, 'tmp'), { recursive: true });
  // The real command, npm and all: npm also forwards the signals it gets to its script, and the service
  // must still see one Ctrl-C as one. A failed test does not leave it running (the service and its Redis die
  // with run.sh).
  const command = runNpm(['start'], env);
  const url = await apiUrlOf(command, options.readyTimeoutMs ?? 60_000);
  const kill = async () => {
    command.killGroup();
    for (const { pid } of await processesTagged(START_TAG, tag)) signalGroup(-pid, 'SIGKILL');
  };
  const { pgid, child, output, exited, signalGroup: signal } = command;
  return { pgid, child, url, tag, cacheDir, recordingsDir, output, exited, signalGroup: signal, kill };
}

/** Live processes whose environment has `name=value` (what they inherited from the process that set it), with their program. */
export async function processesTagged(name: string, value: string): Promise<{ pid: number; command: string }[]> {
  const found = (await tagged(name)).filter((p) => p.value === value && p.pid !== process.pid);
  return Promise.all(found.map(async ({ pid }) => ({ pid, command: await commandOf(pid) })));
}

/** Waits for npm start to exit (the terminal comes back); how long it took, or a failure with what it printed. */
export async function exitWithin(service: NpmStart, limitMs: number): Promise<number> {
  const signalledAt = Date.now();
  const timedOut = delay(limitMs, 'timeout' as const, { ref: false });
  const exit = await Promise.race([service.exited, timedOut]);
  if (exit === 'timeout') {
    service.signalGroup('SIGKILL');
    assert.fail(`npm start still running ${limitMs} ms after the signal:\n${service.output().slice(-4000)}`);
  }
  return Date.now() - signalledAt;
}

/** Nothing the service started is left (its processes all carry its tag), polled for up to `withinMs`; how long it took. */
export async function nothingLeft(service: NpmStart, withinMs = 2000): Promise<number> {
  const since = Date.now();
  let left = await processesTagged(START_TAG, service.tag);
  while (left.length && Date.now() - since < withinMs) {
    await delay(100);
    left = await processesTagged(START_TAG, service.tag);
  }
  assert.deepEqual(left, [], 'every process npm start started has exited');
  return Date.now() - since;
}
