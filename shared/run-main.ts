/**
 * What every entry point does: load and check the config (a wrong one, or Sentinels that know no primary by
 * its name, stops the process with a message naming the key), build a logger, start, and turn signals into a
 * shutdown (README "Signals"):
 *
 * - SIGTERM: a drain. No new jobs; running recordings go on for up to `shutdown_grace` seconds, then are
 *   stopped and finalized like a StopEgress; their uploads and webhooks are delivered; the process exits.
 * - SIGINT: the same, except where the entry point says Ctrl-C stops now (`npm start`, main.ts): recordings
 *   are stopped at once and finalized, and the process exits within STOP_FINISH_SEC + EXIT_MARGIN_SEC.
 * - A signal during a drain: every recording is stopped now (still finalized), as on Ctrl-C.
 * - A signal once recordings are being stopped: exit at once. Recorders are killed; what they wrote is
 *   crash-safe in tmp_dir, and the next start's reaper and salvage deliver it.
 *
 * Whatever happens, the process exits by its time (EXIT_MARGIN_SEC after the shutdown's own bound).
 */
import { constants } from 'node:os';
import { ConfigError, loadConfig, type LoadedConfig } from './config/load.ts';
import { createLogger, type Logger } from './logger.ts';
import { sentinelMasterProblem } from './sentinel-master.ts';

/** After a drain's grace: what finalizing, uploads, webhooks and closing may take (Docker allows a minute: docker/compose.yml). */
export const DRAIN_FINISH_SEC = 50;
/** Ctrl-C: recordings stopped now; finalizing them, their uploads and webhooks, and closing get this long. */
export const STOP_FINISH_SEC = 15;
/** Past the shutdown's own bound the process exits anyway, this long after. */
const EXIT_MARGIN_SEC = 5;

export interface Shutdown {
  /** How long running recordings may go on: shutdown_grace for a drain, 0 to stop them now. */
  graceSec: number;
  /** Once they are stopped: how long finalizing them, their uploads and webhooks, and closing may take. */
  finishSec: number;
}

export interface Running {
  close(shutdown: Shutdown): Promise<void>;
  /** Stops every recording now (they are finalized); the rest of the close gets at most `finishSec`. */
  interrupt?(finishSec: number): void;
}

export interface MainOptions {
  /** What SIGINT asks for: a drain like SIGTERM (containers), or to stop recordings now (Ctrl-C on `npm start`). */
  sigint: 'drain' | 'stop';
}

export async function runMain(
  name: string,
  start: (config: LoadedConfig, log: Logger) => Promise<Running>,
  options: MainOptions = { sigint: 'drain' },
): Promise<void> {
  let config: LoadedConfig;
  try {
    config = loadConfig({ embedded: process.env.EGRESS_EMBEDDED === '1' });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`egress-queue: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const sentinelProblem = await sentinelMasterProblem(config);
  if (sentinelProblem) {
    process.stderr.write(`egress-queue: invalid configuration: ${sentinelProblem}\n`);
    process.exit(2);
  }
  const log = createLogger(config, name);
  if (config.ignoredKeys.length) log.warn({ keys: config.ignoredKeys }, 'LiveKit config keys not used by this version of egress-queue');
  let running: Running;
  try {
    running = await start(config, log);
  } catch (err) {
    log.fatal({ err }, 'failed to start');
    process.exit(1);
  }

  let phase: 'running' | 'draining' | 'stopping' = 'running';
  let exitAt = Infinity;
  let exitTimer: NodeJS.Timeout | undefined;
  /** The process exits `sec` from now at the latest (an earlier exit time stays). */
  const exitWithin = (sec: number) => {
    if (Date.now() + sec * 1000 >= exitAt) return;
    exitAt = Date.now() + sec * 1000;
    clearTimeout(exitTimer);
    exitTimer = setTimeout(() => {
      log.error({ afterSec: sec }, 'shutdown did not finish in time; exiting now (what is unfinished stays in Redis or tmp_dir for the next start)');
      process.exit(1);
    }, sec * 1000);
  };
  const stopNow = (signal: NodeJS.Signals) => {
    phase = 'stopping';
    exitWithin(STOP_FINISH_SEC + EXIT_MARGIN_SEC);
    log.warn({ signal }, 'stopping every recording now; they are finalized (another signal exits at once)');
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (phase === 'stopping') {
      log.warn({ signal }, 'exiting now: recordings are cut off; what they wrote stays in tmp_dir for the next start');
      process.exit(128 + constants.signals[signal]);
    }
    if (phase === 'draining') {
      stopNow(signal);
      running.interrupt?.(STOP_FINISH_SEC);
      return;
    }
    const shutdown: Shutdown =
      signal === 'SIGINT' && options.sigint === 'stop'
        ? { graceSec: 0, finishSec: STOP_FINISH_SEC }
        : { graceSec: config.shutdown_grace, finishSec: DRAIN_FINISH_SEC };
    if (shutdown.graceSec === 0) stopNow(signal);
    else {
      phase = 'draining';
      exitWithin(shutdown.graceSec + shutdown.finishSec + EXIT_MARGIN_SEC);
      log.info({ signal, graceSec: shutdown.graceSec }, 'shutting down: draining (another signal stops every recording now)');
    }
    running.close(shutdown).then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
