/**
 * Audio routing for web recordings. Each recording gets a PulseAudio null sink named after its egress:
 * Chromium plays into it (PULSE_SINK) and ffmpeg records its monitor source, so concurrent recordings
 * never hear each other. The sinks live on the server in PULSE_SERVER if set, else on one private
 * daemon per worker process, started on first use and shared by its recordings.
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
import { describeExit, spawnSupervised, type SupervisedProcess } from './processes.ts';

const PACTL_TIMEOUT_MS = 5_000;
const DAEMON_READY_TIMEOUT_MS = 10_000;
/** Chromium renders audio at 48 kHz; a sink at that rate spares one resampling. */
const SINK_RATE = 48_000;

export interface AudioSink {
  name: string;
  /** PulseAudio server address, e.g. `unix:/tmp/egress-pulse-x/native`. */
  server: string;
  /** The source carrying everything played into the sink: what ffmpeg records. */
  monitor: string;
  /** Environment that makes a PulseAudio client (Chromium) play into this sink. */
  clientEnv: Record<string, string>;
  /** Unloads the sink. Never throws: a failure is logged. */
  remove(): Promise<void>;
}

export async function createSink(name: string, log: Logger): Promise<AudioSink> {
  const server = await pulseServer(log);
  const moduleIndex = (await pactl(server, ['load-module', 'module-null-sink', `sink_name=${name}`, `rate=${SINK_RATE}`])).trim();
  return {
    name,
    server,
    monitor: `${name}.monitor`,
    clientEnv: { PULSE_SERVER: server, PULSE_SINK: name },
    remove: async () => {
      try {
        await pactl(server, ['unload-module', moduleIndex]);
      } catch (err) {
        log.warn({ err, sink: name }, 'could not unload the PulseAudio sink');
      }
    },
  };
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
  const runtimeDir = await mkdtemp(join(tmpdir(), 'egress-pulse-'));
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
  const { stdout } = await execFileAsync('pactl', [`--server=${server}`, ...args], { timeout: PACTL_TIMEOUT_MS });
  return stdout;
}
