/**
 * Audio routing for web recordings. Each recording gets a PulseAudio null sink named after its egress:
 * Chromium plays into it (PULSE_SINK) and ffmpeg records its monitor source, so concurrent recordings
 * never hear each other. The sinks live on the server in PULSE_SERVER if set, else on one private
 * daemon per worker process, started on first use and shared by its recordings.
 *
 * Every sink is primed: a null sink renders in blocks of its largest latency (2 s) until a client asks for
 * less, and a block rendered before ffmpeg connects keeps ffmpeg's first audio (and so the first frame, as
 * ffmpeg starts writing once every input has delivered) waiting for up to 2 s. So the sink is suspended
 * right after it is loaded, a small reader (parec into /dev/null, asking for KEEPER_LATENCY_MS) connects to
 * its monitor, and the sink is resumed: its clock restarts in small blocks and stays so while the reader
 * is connected (it is until remove()). Measured: ffmpeg's first audio 1.0–2.0 s after connecting without,
 * 0.1 s with; the reader and the daemon's extra wake-ups cost about 0.5 % of a core.
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { EgressError } from '../../shared/errors.ts';
import { ownedChild } from '../process/owned-child.ts';
import { ownedDirPrefix } from '../process/owner-tag.ts';
import { describeExit, spawnSupervised, type SupervisedProcess, type Supervisor } from '../process/processes.ts';

const PACTL_TIMEOUT_MS = 5_000;
const DAEMON_READY_TIMEOUT_MS = 10_000;
/** Chromium renders audio at 48 kHz; a sink at that rate spares one resampling. */
const SINK_RATE = 48_000;
/** What the keeper asks of the sink: blocks this long, so a capture connecting later gets audio within one. */
const KEEPER_LATENCY_MS = 50;
const KEEPER_CONNECT_TIMEOUT_MS = 3_000;
const NEVER = new Promise<never>(() => {});
/** The daemon's runtime directory: `<tmp>/egress-pulse-<owner>-XXXXXX`. */
export const PULSE_DIR_KIND = 'egress-pulse';

export interface AudioSink {
  name: string;
  /** PulseAudio server address, e.g. `unix:/tmp/egress-pulse-x/native`. */
  server: string;
  /** The source carrying everything played into the sink: what ffmpeg records. */
  monitor: string;
  /** Environment that makes a PulseAudio client (Chromium) play into this sink. */
  clientEnv: Record<string, string>;
  /**
   * Resolves (never rejects) with why, if the reader keeping the sink primed ends before remove(): the
   * sink or its server is gone. Never resolves for a sink that could not be primed.
   */
  readonly lost: Promise<string>;
  /** Ends the reader and unloads the sink. Never throws: a failure is logged. */
  remove(): Promise<void>;
}

/**
 * Loads a primed null sink. `supervisor` owns the reader that keeps it primed (its processes carry the
 * supervisor's tag, so the reader's CPU counts for the recording); without one it is supervised on its own.
 */
export async function createSink(name: string, log: Logger, supervisor?: Supervisor): Promise<AudioSink> {
  const server = await pulseServer(log);
  const moduleIndex = (await pactl(server, ['load-module', 'module-null-sink', `sink_name=${name}`, `rate=${SINK_RATE}`])).trim();
  const unload = async () => {
    try {
      await pactl(server, ['unload-module', moduleIndex]);
    } catch (err) {
      log.warn({ err, sink: name }, 'could not unload the PulseAudio sink');
    }
  };
  let keeper: SupervisedProcess | undefined;
  try {
    keeper = await prime(server, name, supervisor);
  } catch (err) {
    // Still a working sink, only slower to deliver its first audio.
    log.warn({ err: (err as Error).message, sink: name }, 'could not prime the PulseAudio sink; its first audio may take up to 2 s');
  }
  let removed = false;
  const reader = keeper;
  const lost = reader ? reader.exited.then((exit) => (removed ? NEVER : `the PulseAudio sink's reader ended: ${describeExit(exit, reader)}`)) : NEVER;
  return {
    name,
    server,
    monitor: `${name}.monitor`,
    clientEnv: { PULSE_SERVER: server, PULSE_SINK: name },
    lost,
    remove: async () => {
      removed = true;
      await reader?.kill(1000);
      await unload();
    },
  };
}

/** Suspends the sink, connects the reader to its monitor, resumes the sink (see the top of this file). */
async function prime(server: string, sink: string, supervisor: Supervisor | undefined): Promise<SupervisedProcess> {
  await pactl(server, ['suspend-sink', sink, '1']);
  let keeper: SupervisedProcess | undefined;
  try {
    const args = [
      `--server=${server}`,
      `--device=${sink}.monitor`,
      `--latency-msec=${KEEPER_LATENCY_MS}`,
      // The sink's own format: nothing to resample.
      `--rate=${SINK_RATE}`,
      '--channels=2',
      '--format=s16le',
      '--raw',
      '--client-name=egress-sink-keeper',
    ];
    const stdio: ['ignore', 'ignore', 'pipe'] = ['ignore', 'ignore', 'pipe'];
    keeper = supervisor ? supervisor.spawn('parec', 'parec', args, { stdio }) : spawnSupervised('parec', 'parec', args, { stdio });
    await untilRecording(server, sink, keeper);
    return keeper;
  } catch (err) {
    await keeper?.kill(0);
    throw err;
  } finally {
    await pactl(server, ['suspend-sink', sink, '0']);
  }
}

/** Waits until the monitor of `sink` has a recording stream (the keeper's: nobody else knows the sink yet). */
async function untilRecording(server: string, sink: string, keeper: SupervisedProcess): Promise<void> {
  const monitor = `${sink}.monitor`;
  const sourceIndex = (await pactl(server, ['list', 'short', 'sources']))
    .split('\n')
    .map((line) => line.split('\t'))
    .find((fields) => fields[1] === monitor)?.[0];
  if (sourceIndex === undefined) throw new EgressError('EGR_ERR_INTERNAL', `PulseAudio has no source ${monitor}`);
  let exited: string | undefined;
  void keeper.exited.then((exit) => (exited = describeExit(exit, keeper)));
  const deadline = Date.now() + KEEPER_CONNECT_TIMEOUT_MS;
  for (;;) {
    if (exited) throw new EgressError('EGR_ERR_INTERNAL', `the sink's reader could not start: ${exited}`);
    const outputs = await pactl(server, ['list', 'short', 'source-outputs']);
    if (outputs.split('\n').some((line) => line.split('\t')[1] === sourceIndex)) return;
    if (Date.now() > deadline)
      throw new EgressError('EGR_ERR_INTERNAL', `the sink's reader did not connect within ${KEEPER_CONNECT_TIMEOUT_MS / 1000} s`);
    await delay(10);
  }
}

let privateServer: Promise<string> | undefined;

function pulseServer(log: Logger): Promise<string> {
  const configured = process.env['PULSE_SERVER'];
  if (configured) return Promise.resolve(configured);
  privateServer ??= startDaemon(log).catch((err: unknown) => {
    privateServer = undefined;
    throw err;
  });
  return privateServer;
}

async function startDaemon(log: Logger): Promise<string> {
  // Named for its owner: what a crash leaves here is reaped by the next worker (leftovers.ts).
  const runtimeDir = await mkdtemp(join(tmpdir(), ownedDirPrefix(PULSE_DIR_KIND)));
  const socket = join(runtimeDir, 'native');
  const daemon = spawnSupervised(
    'pulseaudio',
    'pulseaudio',
    [
      '--daemonize=no',
      '--system=no',
      '--use-pid-file=no',
      '--realtime=no',
      '--high-priority=no',
      // Lives as long as the worker, with or without clients.
      '--exit-idle-time=-1',
      '--disallow-exit',
      '--log-target=stderr',
      '--log-level=error',
      // No default.pa: nothing but the socket recordings connect to (anonymous: it is private to us).
      '-n',
      `--load=module-native-protocol-unix socket=${socket} auth-anonymous=1`,
    ],
    { env: { ...process.env, PULSE_RUNTIME_PATH: runtimeDir }, stdio: ['ignore', 'ignore', 'pipe'], keepAlive: false },
  );
  // Its socket and state die with the worker; the daemon itself is killed at exit by the supervision.
  process.once('exit', () => rmSync(runtimeDir, { recursive: true, force: true }));
  void daemon.exited.then(async (exit) => {
    privateServer = undefined;
    log.warn({ reason: describeExit(exit, daemon) }, 'PulseAudio daemon exited; the next recording starts a new one');
    await rm(runtimeDir, { recursive: true, force: true });
  });
  const server = `unix:${socket}`;
  try {
    await untilReachable(server, daemon);
  } catch (err) {
    await daemon.kill();
    throw err;
  }
  log.info({ server, pid: daemon.pid }, 'PulseAudio daemon started');
  return server;
}

async function untilReachable(server: string, daemon: SupervisedProcess): Promise<void> {
  const deadline = Date.now() + DAEMON_READY_TIMEOUT_MS;
  let exited: string | undefined;
  void daemon.exited.then((exit) => (exited = describeExit(exit, daemon)));
  for (;;) {
    if (exited) throw new EgressError('EGR_ERR_INTERNAL', `PulseAudio could not start: ${exited}`);
    try {
      await pactl(server, ['info']);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new EgressError('EGR_ERR_INTERNAL', `PulseAudio not reachable at ${server}`, { cause: err });
    }
    await delay(100);
  }
}

const execFileAsync = promisify(execFile);

async function pactl(server: string, args: string[]): Promise<string> {
  const child = ownedChild('pactl', [`--server=${server}`, ...args]);
  const { stdout } = await execFileAsync(child.command, child.args, { timeout: PACTL_TIMEOUT_MS, env: child.env });
  return stdout;
}
