/**
 * What every entry point does: load and check the config (a wrong one stops the process with a message
 * naming the key), build a logger, start, and turn signals into a drain. First SIGTERM/SIGINT: drain.
 * Second: interrupt (stop recordings now; they are still finalized).
 */
import { ConfigError, loadConfig, type LoadedConfig } from './config/load.ts';
import { createLogger, type Logger } from './logger.ts';

export interface Running {
  close(): Promise<void>;
  interrupt?(): void;
}

export async function runMain(name: string, start: (config: LoadedConfig, log: Logger) => Promise<Running>): Promise<void> {
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
  const log = createLogger(config, name);
  if (config.ignoredKeys.length) log.warn({ keys: config.ignoredKeys }, 'LiveKit config keys not used by this version of egress-queue');
  let running: Running;
  try {
    running = await start(config, log);
  } catch (err) {
    log.fatal({ err }, 'failed to start');
    process.exit(1);
  }
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals === 1) {
      log.info({ signal }, 'shutting down');
      running.close().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    } else {
      log.warn({ signal }, 'second signal: stopping every recording now');
      running.interrupt?.();
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
